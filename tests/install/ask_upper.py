#!/usr/bin/python3
"""Sends one line to the README's program (tests/install/user_program.c) on
127.0.0.1:9999, waiting for it to listen (deadline, not a fixed sleep), and
prints the reply line: ask_upper.py TEXT [DEADLINE_S]."""
import socket
import sys
import time

deadline = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 10)
while True:
    try:
        s = socket.create_connection(("127.0.0.1", 9999), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
s.sendall(sys.argv[1].encode() + b"\n")
print(s.makefile("rb").readline().decode().strip())
