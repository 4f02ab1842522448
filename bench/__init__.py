"""chatstore benchmark harness (issue 9): `python -m bench [--quick]`; see bench/README.md."""
