#!/bin/sh
# One command from a fresh Debian 12 machine to a running maisond on its
# embedded default: installs the packages, builds, and starts maisond with
# a private PostgreSQL cluster in ./maison-data (no database URL needed).
# Extra arguments go to maisond (e.g. --listen 127.0.0.1:9090).
#
# PostgreSQL refuses to run as root, so as root maisond runs as the
# system user 'maison', which this script creates.
set -eu
cd "$(dirname "$0")/.."
sh deploy/install-deps.sh
sh deploy/build.sh
data_dir=${MAISON_DATA_DIR:-$PWD/maison-data}
mkdir -p "$data_dir"
if [ "$(id -u)" -eq 0 ]; then
    id -u maison >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /usr/sbin/nologin maison
    chown maison "$data_dir"
    exec runuser -u maison -- ./maisond --data-dir "$data_dir" "$@"
fi
exec ./maisond --data-dir "$data_dir" "$@"
