#!/usr/bin/env bash
# km-debug against gdbserver and qemu-user: see debug_bench.py. Runs it with the runfiles'
# km, agent and program.
#
#   bazel run -c opt //bench:debug_bench -- [--quick] [--reps N] [--servers km,gdbserver,qemu]
set -euo pipefail
runfiles="${RUNFILES_DIR:-$0.runfiles}/km_debug"
exec /usr/bin/python3 "$runfiles/bench/debug_bench.py" \
  --km "$runfiles/km/km" --agent "$runfiles/agent/km-gdb-agent" \
  --program "$runfiles/bench/bin/debug_target" "$@"
