#!/usr/bin/env bash
# The main job from a fresh clone: installs the Debian packages the project needs, builds
# mnist_paper and trains the report's four models on the bundled 10,000-image MNIST sample.
# Extra arguments go to mnist_paper (see `build/examples/mnist_paper --help`), e.g.
#   scripts/mnist.sh --model p1 --steps 500
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$root/build" --target mnist_paper -j "$(nproc)"
exec "$root/build/examples/mnist_paper" --out "$root/results" "$@"
