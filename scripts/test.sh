#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (scripts/bootstrap.sh), then
# lint (ruff), types (mypy --strict), the pure-core import contract (import-linter), the
# deployment checks (scripts/check-deploy.sh) and pytest, which starts its own Kafka broker and
# HubSpot emulators. Extra arguments go to pytest (e.g. `scripts/test.sh -k rules`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*" >&2; }

step "bootstrap (virtualenv, pinned packages, Kafka jars)"
bash scripts/bootstrap.sh

step "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

step "mypy --strict"
.venv/bin/mypy

step "import contract: the pure core imports no I/O"
.venv/bin/lint-imports

if [[ -x scripts/check-deploy.sh ]]; then
  step "deployment: chart, alerts, dashboard, Dockerfile"
  bash scripts/check-deploy.sh
fi

step "pytest"
set +e
.venv/bin/pytest "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit $rc
