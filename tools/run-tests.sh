#!/usr/bin/env bash
# Installs the dependencies, builds the release preset and runs every test
# suite (unit, integration, interop, fuzz-seed replay). Interop tests that need
# root or a peer that is missing skip with the reason. This is README's test
# command and the first stage of .ci/run.
# Usage: tools/run-tests.sh [--no-install] [extra ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--no-install" ]]; then
  shift
else
  bash tools/install-deps.sh
fi

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
ctest --preset release -j "$(nproc)" --timeout 600 "$@"
