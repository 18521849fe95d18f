#!/usr/bin/env bash
# debian/libsockserv0.symbols lists exactly the public (ss_, not ss__)
# symbols the built library exports, so that a new or vanished function is
# noticed here and not first by a distribution.  A new symbol gets a line
# " ss_name@Base VERSION" with the version it first appears in.
set -euo pipefail
src=$1 lib=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '{print $3}' | grep '^ss_' | grep -v '^ss__' |
    sed 's/@.*//' | sort -u >"$tmp/lib"
grep -o '^ ss_[A-Za-z0-9_]*' "$src/debian/libsockserv0.symbols" | tr -d ' ' |
    sort -u >"$tmp/deb"
if ! diff -u --label debian/libsockserv0.symbols --label "$(basename "$lib")" \
        "$tmp/deb" "$tmp/lib"; then
    echo "debian/libsockserv0.symbols and the library's symbols differ (above)"
    exit 1
fi
echo "$(wc -l <"$tmp/lib") public symbols, all in debian/libsockserv0.symbols"
