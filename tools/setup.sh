#!/usr/bin/env bash
# Installs everything km-debug needs to build and test, from Debian 12 packages only. Safe to run
# again: it installs only what is missing.
set -euo pipefail

packages=(
  bazel-bootstrap g++ pkg-config python3
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libunicorn-dev
  musl-tools gdb gdbserver qemu-user util-linux
  clang libclang-rt-14-dev  # the libFuzzer targets (tools/fuzz/fuzz.bzl)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's bazel wrapper reads .bazelversion; "4" selects bazel-bootstrap's 4.2.3.
command -v bazel >/dev/null || { echo "setup: bazel not on PATH after install" >&2; exit 1; }
