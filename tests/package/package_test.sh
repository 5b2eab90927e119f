#!/usr/bin/env bash
# Installs this build into a temporary prefix and builds examples/consumer
# against it twice: with CMake's find_package(inlinesec) and with pkg-config.
# Both programs must open the model and report ABI 1.x.
# Usage: package_test.sh <build dir> <source dir>
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d /tmp/inlinesec-pkg-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src/examples/consumer" -B "$tmp/cmake-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
out=$("$tmp/cmake-build/consumer")
echo "find_package: $out"
[[ $out == "engine abi 1."* ]]

PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" \
  c++ -o "$tmp/pc-consumer" "$src/examples/consumer/main.cc" \
  $(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" pkg-config --cflags --libs inlinesec)
out=$("$tmp/pc-consumer")
echo "pkg-config:   $out"
[[ $out == "engine abi 1."* ]]
