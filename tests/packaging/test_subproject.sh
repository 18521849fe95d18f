#!/usr/bin/env bash
# libsockserv as a subproject: a tiny downstream project (downstream/) finds
# it with dependency('libsockserv', fallback : 'libsockserv') through the
# library's meson.override_dependency, even where an installed libsockserv
# would otherwise win (--force-fallback-for), builds and runs.
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/tests/packaging/downstream" "$tmp/proj"
mkdir "$tmp/proj/subprojects"
ln -s "$src" "$tmp/proj/subprojects/libsockserv"
meson setup "$tmp/build" "$tmp/proj" --wrap-mode=nodownload \
    --force-fallback-for=libsockserv >"$tmp/setup.log" ||
    { cat "$tmp/setup.log"; exit 1; }
grep -q "Dependency libsockserv found: YES .*(overridden)" "$tmp/setup.log" ||
    { cat "$tmp/setup.log"; echo "libsockserv did not come from the subproject"; exit 1; }
ninja -C "$tmp/build" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
# Only the library is built for a downstream project.
[ ! -e "$tmp/build/subprojects/libsockserv/ftp" ]
"$tmp/build/downstream" | grep '^bound 127\.0\.0\.1:[1-9]'
