#!/usr/bin/env bash
# Times a compute-bound payload natively, under km on each engine this machine has, and under
# qemu-x86_64 (user-mode QEMU: the peer that also runs Linux binaries on a software CPU), then
# a signal-bound one (signal_roundtrip: signals into a thread blocked in a read, which km must
# cut short). Prints Markdown: one table per payload build, the median of several runs each,
# with ratios to native. Every run's output is checked against the native one.
#
#   bazel run //bench:km_vs_native -- [--runs N] [--iterations N] [--signals N]
#
# KM, QEMU and PAYLOAD_DIR override where km, qemu-x86_64 and the payloads are found.
set -euo pipefail

runs=5
iterations=30000000
signals=10000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --iterations) iterations="$2"; shift 2 ;;
    --signals) signals="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--iterations N] [--signals N]" >&2; exit 2 ;;
  esac
done

runfiles="${RUNFILES_DIR:-$0.runfiles}/km_debug"
km="${KM:-$runfiles/km/km}"
qemu="${QEMU:-$(command -v qemu-x86_64 || true)}"
payload_dir="${PAYLOAD_DIR:-$runfiles/tests/payloads/bin}"
roundtrip="${SIGNAL_ROUNDTRIP:-$runfiles/bench/bin/signal_roundtrip}"

# Wall-clock seconds of one run of "$@", output checked against $expected.
time_one() {
  local start end out
  start=$(date +%s%N)
  out=$("$@")
  end=$(date +%s%N)
  if [ "$out" != "$expected" ]; then
    echo "bench: wrong output from $*: $out (want $expected)" >&2
    exit 1
  fi
  awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}

# Median, minimum and maximum of $runs runs of "$@": "median min max".
measure() {
  local times=()
  for _ in $(seq "$runs"); do times+=("$(time_one "$@")"); done
  printf '%s\n' "${times[@]}" | sort -g | awk '
    { t[NR] = $1 }
    END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
          printf "%.3f %.3f %.3f", m, t[1], t[NR] }'
}

# The -c test comes first: bash's <> creates a missing file.
kvm_available() { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }

row() {  # name, "median min max", native median
  read -r median min max <<<"$2"
  awk -v name="$1" -v m="$median" -v lo="$min" -v hi="$max" -v base="$3" \
    'BEGIN { printf "| %s | %.3f | %.3f – %.3f | %.1fx |\n", name, m, lo, hi, m / base }'
}

echo "Iterations: $iterations; median of $runs runs each (seconds, wall clock)."
for payload in compute compute_o2; do
  binary="$payload_dir/$payload"
  expected=$("$binary" "$iterations")
  echo
  case "$payload" in
    compute) build="-O0" ;;
    compute_o2) build="-O2" ;;
  esac
  echo "### $payload (musl-gcc -static $build)"
  echo
  echo "| runner | median s | min – max s | vs native |"
  echo "| --- | --- | --- | --- |"
  native=$(measure "$binary" "$iterations")
  native_median=${native%% *}
  row "native" "$native" "$native_median"
  if kvm_available; then
    row "km --accel=kvm" "$(measure "$km" --accel=kvm "$binary" "$iterations")" "$native_median"
  else
    echo "| km --accel=kvm | skipped: no usable /dev/kvm | | |"
  fi
  row "km --accel=tcg" "$(measure "$km" --accel=tcg "$binary" "$iterations")" "$native_median"
  # The debug service must cost nothing while nobody is attached.
  for engine in kvm tcg; do
    [ "$engine" = kvm ] && ! kvm_available && continue
    row "km --accel=$engine --debug-socket, no client" \
      "$(measure "$km" --accel=$engine --debug-socket "/tmp/km-bench-$$.sock" "$binary" "$iterations")" \
      "$native_median"
  done
  if [ -n "$qemu" ]; then
    row "qemu-x86_64" "$(measure "$qemu" "$binary" "$iterations")" "$native_median"
  else
    echo "| qemu-x86_64 | skipped: not installed | | |"
  fi
done

# Each runner's start-up is in its time: the row's figure is the whole run, as for compute.
echo
echo "### signal_roundtrip ($signals signals into a thread blocked in read, each answered by its handler)"
echo
echo "| runner | median s | min – max s | vs native |"
echo "| --- | --- | --- | --- |"
expected=$signals
native=$(measure "$roundtrip" "$signals")
native_median=${native%% *}
row "native" "$native" "$native_median"
for engine in kvm tcg; do
  if [ "$engine" = kvm ] && ! kvm_available; then
    echo "| km --accel=kvm | skipped: no usable /dev/kvm | | |"
    continue
  fi
  row "km --accel=$engine" "$(measure "$km" --accel=$engine "$roundtrip" "$signals")" "$native_median"
done
if [ -n "$qemu" ]; then
  row "qemu-x86_64" "$(measure "$qemu" "$roundtrip" "$signals")" "$native_median"
else
  echo "| qemu-x86_64 | skipped: not installed | | |"
fi
