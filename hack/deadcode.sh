#!/usr/bin/env bash
# Fails when the module has functions that no program of it reaches
# (golang.org/x/tools/cmd/deadcode, run without -test: code that only tests
# call counts as dead), except for the lines hack/deadcode-allow.txt allows.
#
# Usage: hack/deadcode.sh path/to/deadcode
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

deadcode=${1:?usage: hack/deadcode.sh path/to/deadcode}
module=$(go list -m)
report=$("${deadcode}" -filter "^${module}/" ./...)
allow=$(grep -Ev '^[[:space:]]*(#|$)' hack/deadcode-allow.txt)
mapfile -t patterns <<<"${allow}"
args=()
for p in "${patterns[@]}"; do args+=(-e "$p"); done
dead=$(grep -Ev "${args[@]}" <<<"${report}" || true)
if [[ -n "${dead}" ]]; then
  echo "error: unreachable code (remove it, or if it must stay, add a commented line to hack/deadcode-allow.txt):" >&2
  echo "${dead}" >&2
  exit 1
fi
echo "deadcode: no unreachable functions outside hack/deadcode-allow.txt"
