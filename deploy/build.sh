#!/bin/sh
# Builds Maison in the source tree with Autotools. Extra arguments go to
# ./configure (e.g. --enable-asan --enable-ubsan).
set -eu
cd "$(dirname "$0")/.."
autoreconf -fi
./configure --enable-werror "$@"
make -j"$(nproc)"
