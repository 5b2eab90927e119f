#!/usr/bin/env bash
# README's main job: installs the dependencies, builds the release preset and
# brings the built-in engine model up through the driver (identity,
# capabilities, a batch of SAs through the command ring, traffic through every
# SA pair, an SPI-miss exception, counters and a register dump). The program
# checks every step and exits non-zero if the engine breaks a promise.
# Then the gateway demo (tools/gateway-demo.sh, root): two IKE-keyed
# inlinesecd gateways in network namespaces, traffic through the tunnel,
# faults injected in turn (lost Child SA, engine reset, reset behind the
# driver, SIGKILL + restart, a random-SPI flood) with the recovery
# timeline; non-zero if traffic is not restored.
# Usage: tools/main-job.sh [--no-install] [inlinesec-bringup args...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--no-install" ]]; then
  shift
else
  bash tools/install-deps.sh
fi

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target inlinesec-bringup inlinesecd inlinesec
./build/release/tools/bringup/inlinesec-bringup --uri model: "$@"
echo
bash tools/gateway-demo.sh build/release
