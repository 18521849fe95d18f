#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds the README's example
# as a user would, with pkg-config, shared and static; then talks to it.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
pid=
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions |
    /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
pcdir=$(dirname "$(find "$tmp/root" -name libsockserv.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$tmp/root
pkg-config --exists libsockserv
libdir=$(dirname "$(find "$tmp/root" -name 'libsockserv.so' | head -1)")
# The README example must stay identical to the tested program.
/usr/bin/python3 - "$src/README.md" "$src/tests/install/user_program.c" <<'PY'
import re, sys
readme = open(sys.argv[1]).read()
prog = open(sys.argv[2]).read()
ex = re.search(r"```c\n(#include <ctype.h>.*?)```", readme, re.S).group(1)
assert ex in prog, "README example and tests/install/user_program.c differ"
PY
cc -std=gnu17 -Wall -Wextra -Werror -o "$tmp/upper" "$src/tests/install/user_program.c" \
    $(pkg-config --cflags --libs libsockserv) -Wl,-rpath,"$libdir"
cc -std=gnu17 -Wall -Wextra -Werror -o "$tmp/upper-static" "$src/tests/install/user_program.c" \
    $(pkg-config --cflags libsockserv) "$libdir/libsockserv.a" \
    $(pkg-config --libs-only-l --static libsockserv | sed 's/-lsockserv//')
for prog in upper upper-static; do
    "$tmp/$prog" & pid=$!
    reply=$(/usr/bin/python3 "$src/tests/install/ask_upper.py" "hello libsockserv")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    [ "$reply" = "HELLO LIBSOCKSERV" ] || { echo "$prog replied '$reply'"; exit 1; }
done
echo "installed library works with pkg-config: shared and static"
