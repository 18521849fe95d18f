#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, when missing.
# Sourced by scripts/run and scripts/test; uses sudo only when not root.
set -euo pipefail

SOCKSERV_BUILD_PACKAGES=(gcc meson ninja-build pkg-config libuv1-dev libssl-dev)
# libpq-dev is optional for the build (meson's -Dpostgresql=auto: the
# database store of sockserv-ftpd); the tests need it and the server
# (scripts/pgtmp), the quick start needs neither.
SOCKSERV_TEST_PACKAGES=(libcriterion-dev libedit-dev openssl python3
    python3-pyftpdlib python3-openssl curl lftp netcat-openbsd procps tmux
    python3-prometheus-client
    haproxy
    libpq-dev postgresql
    scdoc man-db systemd debhelper dpkg-dev fakeroot lintian git logrotate)
# bench/ftp (not run in CI): the servers it compares with and perf for
# profiles.  pure-ftpd is measured too when installed, but conflicts with
# vsftpd as a package, so it is not listed.
SOCKSERV_BENCH_PACKAGES=(vsftpd python3-pyftpdlib python3-openssl curl strace
    linux-perf)
# scripts/fuzz: clang with libFuzzer and its sanitizer runtimes.
SOCKSERV_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

sockserv_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}
