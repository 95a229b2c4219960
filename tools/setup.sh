#!/usr/bin/env bash
# Installs everything km-debug needs to build and test, from Debian 12 packages only. Safe to run
# again: it installs only what is missing.
set -euo pipefail

packages=(
  bazel-bootstrap g++ pkg-config python3
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libunicorn-dev
  musl-tools gdb gdbserver lldb qemu-user util-linux
  python3-grpcio python3-protobuf python3-pyelftools
  clang libclang-rt-14-dev  # the libFuzzer targets (tools/fuzz/fuzz.bzl)
)
# npm installs buf below; machines of this kind come with Node.js, else Debian's will do.
command -v npm >/dev/null || packages+=(nodejs npm)

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

# buf, for `buf curl` through tools/kmcurl: the version tools/buf/package-lock.json pins.
buf_dir="$(dirname "$0")/buf"
buf="$buf_dir/node_modules/@bufbuild/buf-linux-x64/bin/buf"
want=$(sed -n '/"node_modules\/@bufbuild\/buf-linux-x64"/,/version/s/.*"version": "\(.*\)".*/\1/p' \
  "$buf_dir/package-lock.json")
if [ "$("$buf" --version 2>/dev/null)" != "$want" ]; then
  echo "setup: installing buf $want in $buf_dir"
  (cd "$buf_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
