#!/usr/bin/env bash
# Idempotent setup of everything the demo and the tests need: a virtualenv with the pinned
# Python packages (requirements/constraints.txt) and the Apache Kafka jars (sandbox/kafka/pom.xml).
# Safe to run again: it only does work when an input changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed"
WANT="$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "bootstrap: creating virtualenv in .venv" >&2
  "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
  echo "bootstrap: installing Python packages (pinned by requirements/constraints.txt)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip<26" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c requirements/constraints.txt -e ".[dev]" >&2
  echo "$WANT" > "$STAMP"
fi
"$ROOT/sandbox/kafka.sh" fetch
