#!/usr/bin/env python3
"""Runs a command on a terminal of its own (a pty), and types LINE each time PROMPT appears in
what it writes (a passphrase asked twice gets it twice), as a person would: a program that turns echo off to read a passphrase throws away
what was typed before it asked (TCSAFLUSH), so piping the answer in early proves nothing.

usage: type_at_prompt.py PROMPT LINE -- COMMAND [ARGS...]
Prints everything the command wrote; exits with its exit status (1 if PROMPT never came)."""
import os
import pty
import sys
import time


def main():
    prompt, line = sys.argv[1].encode(), sys.argv[2].encode() + b"\n"
    command = sys.argv[sys.argv.index("--") + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    seen, typed, deadline = b"", 0, time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the command closed its terminal: it ended
            break
        if not data:
            break
        seen += data
        if seen.count(prompt) > typed:
            os.write(fd, line)
            typed += 1
    sys.stdout.write(seen.decode(errors="replace"))
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if typed else 1)


if __name__ == "__main__":
    main()
