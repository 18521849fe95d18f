#!/usr/bin/env bash
# The systemd units as built: systemd-analyze verify accepts them, and the
# offline security score of the service stays at 1.4 or better (lower is
# better; --threshold is in tenths).  ExecStart points to the built server
# so that verify can check it is there and executable; the man pages of
# Documentation= are checked by the install test, where they are installed.
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for unit in "$build"/systemd/*.service "$build"/systemd/*.socket; do
    [ -e "$unit" ] || continue
    sed "s|^ExecStart=[^ ]*/sockserv-ftpd|ExecStart=$build/ftp/server/sockserv-ftpd|" \
        "$unit" >"$tmp/$(basename "$unit")"
done
systemd-analyze verify --man=no "$tmp"/*
echo "systemd-analyze verify: ok"
systemd-analyze security --offline=true --threshold=14 --no-pager \
    "$tmp/sockserv-ftpd.service" | tail -1
