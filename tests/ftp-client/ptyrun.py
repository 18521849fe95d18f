#!/usr/bin/python3
"""Runs a command with stdin, stdout and stderr on a pseudo-terminal of
100x30 and copies everything it wrote, byte for byte, to our stdout.
Exits with the command's exit code.  Usage: ptyrun.py CMD [ARG...]"""
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios


def main():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True, close_fds=True)
    os.close(slave)
    out = sys.stdout.buffer
    while True:
        try:
            buf = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal is gone
            break
        if not buf:
            break
        out.write(buf)
        out.flush()
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
