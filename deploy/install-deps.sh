#!/bin/sh
# Installs the Debian 12 packages Maison needs to build, run, test and
# benchmark. Safe to run again. Needs root (or sudo).
set -eu
packages="build-essential autoconf automake pkg-config
  libmicrohttpd-dev libgnutls28-dev libjansson-dev libpq-dev libopenblas-dev
  libsodium-dev libxxhash-dev check libcurl4-openssl-dev postgresql postgresql-client python3 python3-yaml
  python3-jsonschema curl openssl nginx-light"
if [ "${1:-}" = "--bench" ]; then
    packages="$packages wrk"
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends $missing
fi
