"""Start one command as a compose container would see the world (run under `unshare --mount --uts`).

    python tests/compose/launch.py --hostname H [--mount SRC:DST[:ro] ...] --cwd DIR -- COMMAND ...

In its own mount and UTS namespaces (so nothing here touches the machine): bind-mounts
each volume at its container path, sets the container's host name, changes to the
image's working directory and replaces itself with the command, keeping the
environment it was started with (the one compose gives the service). Standard library
only: it runs as a script, before the command's own interpreter.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--mount", action="append", default=[], metavar="SRC:DST[:ro]")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    for spec in args.mount:
        source, target, *mode = spec.split(":")
        os.makedirs(target, exist_ok=True)  # a mount point, as the engine creates it in the container
        subprocess.run(["mount", "--bind", source, target], check=True)
        if mode == ["ro"]:
            subprocess.run(["mount", "-o", "remount,bind,ro", target], check=True)
    socket.sethostname(args.hostname)
    os.chdir(args.cwd)
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        sys.stderr.write(f"launch: {command[0]}: command not found on PATH={os.environ.get('PATH')}\n")
        return 127


if __name__ == "__main__":
    raise SystemExit(main())
