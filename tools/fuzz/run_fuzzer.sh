#!/usr/bin/env bash
# run_fuzzer.sh FUZZER CORPUS_DIR REGRESSIONS_DIR: replays every regression input (each once: a
# crash fixed once must stay fixed), then fuzzes from the seed corpus for FUZZ_SECONDS (default
# 30). Fails on any crash, leak, hang or broken check; the input that did it is saved among the
# test's outputs (bazel-testlogs/.../test.outputs) to become a regression input.
set -euo pipefail
fuzzer=$1 corpus=$2 regressions=$3
seconds=${FUZZ_SECONDS:-30}
out=${TEST_UNDECLARED_OUTPUTS_DIR:-$(mktemp -d)}

flags=(-close_fd_mask=2 -timeout=10 -rss_limit_mb=2560 "-artifact_prefix=$out/")
if compgen -G "$regressions/*" >/dev/null; then
  echo "replaying $(ls "$regressions" | wc -l) regression inputs"
  "$fuzzer" "${flags[@]}" "$regressions"/*
fi
# Fuzzing adds inputs to the first corpus directory: a scratch copy, never the repository's.
work=${TEST_TMPDIR:-$(mktemp -d)}/corpus
mkdir -p "$work"
echo "fuzzing for ${seconds}s from $(ls "$corpus" | wc -l) seed inputs"
"$fuzzer" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 "$work" "$corpus"
