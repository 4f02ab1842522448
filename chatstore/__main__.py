"""`python -m chatstore ...` is the `chatstore` command."""

import sys

from chatstore.cli import main

sys.exit(main())
