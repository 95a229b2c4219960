#!/usr/bin/env bash
# Sets everything up and runs the whole test suite, then prints one line counting test cases:
# "N passed, N failed, N skipped". Engines this machine lacks are reported as skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh || exit 1
bazel test //... "$@"
status=$?
python3 tools/test_summary.py "$(bazel info bazel-testlogs 2>/dev/null)"
summary_status=$?
[ $status -eq 0 ] && status=$summary_status
exit $status
