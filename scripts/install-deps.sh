#!/usr/bin/env bash
# Installs the Debian packages that building, testing and plotting need, and only those that
# are missing, so that a machine that has them all is left untouched and asks no archive.
set -euo pipefail

packages=(
    cmake
    g++
    libxtensor-dev
    libxtensor-blas-dev
    libopenblas-dev
    doctest-dev
    zlib1g-dev
    librandom123-dev # reference Philox for the tests only
    gnuplot-nox      # the plots
    doxygen          # the API reference (cmake --build build --target docs)
)

# `dpkg -s` also succeeds for a package that was removed but left its configuration files,
# so read its status rather than trusting the exit code alone. (Not through `| grep -q`:
# with pipefail, dpkg killed by SIGPIPE after grep's early exit would read as "missing".)
is_installed() {
    local info
    info="$(dpkg -s "$1" 2>/dev/null)" || return 1
    [[ $info == *$'\nStatus: install ok installed\n'* ]]
}

missing=()
for package in "${packages[@]}"; do
    if ! is_installed "$package"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi

# CI and most containers run as root, where sudo may not even exist.
as_root=()
if ((EUID != 0)); then
    as_root=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
# A fresh machine may have no package lists yet, and old lists may name versions that are gone.
"${as_root[@]}" apt-get update
# With the recommended packages, as on the developers' machines: gnuplot-nox draws its text
# with the fonts-liberation it only recommends.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
