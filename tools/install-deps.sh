#!/usr/bin/env bash
# Installs every Debian 12 package inlinesec needs to build, test and
# benchmark. README and .ci/run both call this; nothing is installed by hand.
# Usage: tools/install-deps.sh [--no-update | --list]
#   --list prints the package names, one per line, and installs nothing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format clang-tidy
  # libraries the SDK, tools and tests link
  libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libpcap-dev
  # DPDK 22.11 (rte_security glue, lib/ipsec cross-checks, SAD baseline)
  libdpdk-dev dpdk-dev
  # Xilinx XRT (the card transport; builds and links without a card)
  libxrt-dev
  # real peers and dissectors for interop tests
  strongswan-charon strongswan-swanctl libcharon-extra-plugins iputils-ping
  libstrongswan-standard-plugins iproute2 tshark python3-scapy
)

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
if [[ "${1:-}" != "--no-update" ]]; then
  $SUDO apt-get update -q
fi
$SUDO apt-get install -y -q --no-install-recommends "${packages[@]}"
