#!/usr/bin/env bash
# Runs clang-tidy (checks in .clang-tidy) over the product code: every .cc
# under sdk/, driver/ and hw_models/ that the build compiles. Needs a
# configured build with compile_commands.json (default: the release preset).
# Fails on any finding; prints each one.
#   tools/run-clang-tidy.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
if [[ ! -f "$build/compile_commands.json" ]]; then
  echo "run-clang-tidy: $build/compile_commands.json missing; configure first (cmake --preset release)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files 'sdk/*.cc' 'driver/*.cc' 'hw_models/*.cc' |
  while IFS= read -r f; do grep -q "\"file\": \"$PWD/$f\"" "$build/compile_commands.json" && echo "$f"; done)
echo "clang-tidy: ${#files[@]} files"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 1 clang-tidy -p "$build" --quiet >"$log" 2>&1 || status=$?
grep -E '(warning|error):' "$log" | sort -u || true
if [[ $status -ne 0 ]]; then
  echo "clang-tidy found problems (full output above)" >&2
  exit 1
fi
echo "clang-tidy: clean"
