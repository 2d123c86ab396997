#!/usr/bin/env bash
# Run every benchmark once, one after the other (each prints its own numbers).
#   bash bench/run_all.sh            # uses .venv/bin/python, else python3
#   PYTHON=/path/to/python bash bench/run_all.sh
# Add --crepe to also run the accuracy benchmark with the CREPE backend (slow: ~1 h here).
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    for cand in .venv/bin/python python3; do
        if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
    done
fi
status=0
run() {
    echo
    echo "=== $* ==="
    "$PY" "$@" || { echo "!!! failed: $*" >&2; status=1; }
}
run bench/calibrate.py --verify
run bench/accuracy.py --examples
run bench/chords.py
if [ "${1:-}" = "--crepe" ]; then
    run bench/accuracy.py --model crepe
fi
for b in bench/bench_*.py; do
    [ -e "$b" ] && run "$b"
done
exit $status
