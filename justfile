# chatstore: the verbs a person types. `just --list` shows them all.

set dotenv-load := true
set shell := ["bash", "-euo", "pipefail", "-c"]

# The project's virtualenv comes first, so dbmate, squawk, ruff, ... are the pinned ones.
export PATH := justfile_directory() / ".venv/bin" + ":" + env_var("PATH")

# List the recipes.
default:
    @just --list

# Start development PostgreSQL and Redis (docker compose, or local servers under .data/).
db-up:
    python scripts/devservers.py up

# Stop what db-up started.
db-down:
    python scripts/devservers.py down

# Apply pending migrations (creates the database if needed) and refresh db/schema.sql.
migrate:
    chatstore migrate --schema-file db/schema.sql

# Undo the newest migration and refresh db/schema.sql.
rollback:
    chatstore rollback --schema-file db/schema.sql

# Start a new migration from the house template: just new-migration add_room_topics
# (`chatstore new-migration --concurrent-index NAME` for CREATE INDEX CONCURRENTLY).
new-migration name *flags:
    chatstore new-migration {{ flags }} {{ name }}

# Load development data (idempotent: running it twice adds nothing).
seed:
    psql "$DATABASE_URL" --quiet -v ON_ERROR_STOP=1 -f db/seeds/development.sql

# Run the demo against the development database.
demo:
    chatstore demo

# Servers up, migrated, seeded, demo.
dev: db-up migrate seed demo

# Static checks: ruff, mypy --strict, the query-file checks and sqlfluff on sql/ and
# db/checks/, squawk on migrations. Seconds, no servers.
lint:
    ruff check .
    ruff format --check .
    mypy
    chatstore lint-sql sql bench
    sqlfluff lint sql db/checks tests/app_example/sql bench
    python scripts/lint_migrations.py

# Everything CI runs: the static checks, then the test suite (which includes the schema
# drift check) against throwaway servers it starts itself.
test *pytest_args: lint
    pytest {{ pytest_args }}

# The benchmark: `just bench` (full run, about 17 minutes; the dataset is kept in
# bench/.data/ for the next run) or `just bench --quick` (small dataset, about 80 s;
# CI runs it as a test).
bench *args:
    python -m bench {{ args }}

# Only the check that db/schema.sql matches what the migrations produce.
schema-check:
    pytest tests/test_migrations.py -k schema_file
