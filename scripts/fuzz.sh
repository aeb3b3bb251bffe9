#!/usr/bin/env bash
# Fuzzes the IDX reader (or the checkpoint loader) for SECONDS seconds.
#
# Configures a clang build with POISSON_BUILD_FUZZERS=ON in build-fuzz/, copies the seed
# corpus tests/fuzz/corpus/TARGET/ to build-fuzz/corpus-TARGET/ (new inputs go there, so
# the committed corpus stays small), and runs TARGET_fuzzer on it. Exits non-zero if the
# fuzzer finds a crash; the input that crashed is saved in build-fuzz/artifacts/.
#
# Usage: scripts/fuzz.sh SECONDS [idx|checkpoint]   (default idx; CXX=... picks another
# clang, default clang++-14)
set -euo pipefail

target=${2:-idx}
if [[ $# -lt 1 || $# -gt 2 || ! $1 =~ ^[0-9]+$ || ! $target =~ ^(idx|checkpoint)$ ]]; then
    echo "usage: $0 SECONDS [idx|checkpoint]" >&2
    exit 2
fi
seconds=$1
fuzzer=${target}_fuzzer
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz

cmake -S "$root" -B "$build" \
    -DCMAKE_CXX_COMPILER="${CXX:-clang++-14}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPOISSON_BUILD_FUZZERS=ON \
    -DPOISSON_BUILD_TESTS=OFF -DPOISSON_BUILD_EXAMPLES=OFF -DPOISSON_BUILD_BENCHMARKS=OFF \
    -DPOISSON_WARNINGS_AS_ERRORS=ON
cmake --build "$build" -j2 --target "$fuzzer"

work=$build/corpus-$target
rm -rf "$work"
mkdir -p "$work" "$build/artifacts"
cp "$root/tests/fuzz/corpus/$target"/* "$work"/

if ! "$build/tests/fuzz/$fuzzer" "$work" \
        -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
        -artifact_prefix="$build/artifacts/"; then
    echo "fuzz.sh: $fuzzer found a crash; the input is in $build/artifacts/" >&2
    exit 1
fi
echo "fuzz.sh: no crash in $seconds s; corpus grew to $(ls "$work" | wc -l) inputs"
