#!/usr/bin/env bash
# The project's test command: installs what is missing, builds build/ in Release with warnings
# as errors and runs the whole test suite. Safe to run again; works from any directory.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"

"$root/scripts/install-deps.sh"

echo "test.sh: configuring $root/build"
cmake -S "$root" -B "$root/build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DPOISSON_WARNINGS_AS_ERRORS=ON

echo "test.sh: building with $jobs jobs"
cmake --build "$root/build" --parallel "$jobs"

# Last, so that the closing lines are ctest's summary.
cd "$root/build"
# A suite that registered no test is an error, not a pass.
ctest --output-on-failure --no-tests=error
