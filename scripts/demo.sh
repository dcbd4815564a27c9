#!/usr/bin/env bash
# The demo, from a fresh clone: install what is needed, start a local Kafka broker and the HubSpot
# sandbox emulator, publish the sample Classter data, run the daemon until its consumer group has
# no lag, stop it with SIGTERM, and print the resulting CRM state beside the expected one.
#
#   scripts/demo.sh          run (again: replays the topics from the earliest offsets into the
#                            same emulator, which must end in the same state, with no duplicate)
#   scripts/demo.sh stop     stop the broker and the emulator (their data is kept until `reset`)
#   scripts/demo.sh reset    stop both and wipe the broker's data
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN_DIR="$ROOT/.cache/demo"
EMULATOR_PORT=31080
EMULATOR_PID="$RUN_DIR/emulator.pid"
export HUBSPOT_TOKEN="pat-na1-sandbox-demo-token"  # the emulator's demo token, not a secret

emulator_pid() {
  local pid
  [[ -f "$EMULATOR_PID" ]] || return 1
  pid="$(cat "$EMULATOR_PID")"
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "sandbox.emulator" || return 1
  echo "$pid"
}

stop_emulator() {
  local pid
  if pid="$(emulator_pid)"; then
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$EMULATOR_PID"
}

case "${1:-run}" in
  stop) stop_emulator; sandbox/kafka.sh stop; exit 0 ;;
  reset) stop_emulator; sandbox/kafka.sh reset; rm -rf "$RUN_DIR"; exit 0 ;;
  run) ;;
  *) echo "usage: scripts/demo.sh [run|stop|reset]" >&2; exit 2 ;;
esac

bash scripts/bootstrap.sh
mkdir -p "$RUN_DIR"
sandbox/kafka.sh start >/dev/null

if ! emulator_pid >/dev/null; then
  echo "demo: starting the HubSpot sandbox emulator on 127.0.0.1:$EMULATOR_PORT" >&2
  setsid .venv/bin/python -m sandbox.emulator --host 127.0.0.1 --port "$EMULATOR_PORT" \
    --seed examples/sample/portal_seed.json </dev/null >>"$RUN_DIR/emulator.log" 2>&1 &
  echo $! >"$EMULATOR_PID"
fi

exec .venv/bin/python -m sandbox.demo --config examples/config.yaml \
  --events examples/sample/events.jsonl --expected examples/sample/expected_state.json \
  --emulator "http://127.0.0.1:$EMULATOR_PORT" --log "$RUN_DIR/daemon.log"
