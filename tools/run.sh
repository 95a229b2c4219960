#!/usr/bin/env bash
# Sets everything up, builds km and runs a payload under it:
#   tools/run.sh [km flags] [PAYLOAD [ARGS...]]
# With no payload, runs the hello test payload. km's exit status is the payload's.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
bazel build -c opt //km:km //tests/payloads:hello >&2
flags=()
while [ $# -gt 0 ] && [[ "$1" == --* ]]; do flags+=("$1"); shift; done
if [ $# -eq 0 ]; then
  set -- bazel-bin/tests/payloads/bin/hello 0 "hello from a km payload"
fi
exec bazel-bin/km/km "${flags[@]}" "$@"
