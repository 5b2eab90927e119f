#!/usr/bin/env bash
# Fails if any C++ file under version control is not clang-formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f"
    bad=1
  fi
done < <(git ls-files '*.h' '*.cc' '*.cpp')
exit $bad
