"""Ties a server's life to the Python process that started it.

`python -m alliance_devstack.guard FD -- COMMAND...` runs COMMAND as its child and waits.
FD is the read end of a pipe whose write end only the starting process holds: when that
process dies by any means (even SIGKILL, or a test run cut short), the pipe reports
end-of-file and the guard stops the server, so no stray broker keeps its port and data.

The guard ignores SIGTERM (the signal reaches the server directly, through the process
group) and exits only once the server has, with the server's exit status, so whoever
stops the pair knows the port is free again.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

GRACE_S = 20.0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m alliance_devstack.guard FD -- COMMAND...", file=sys.stderr)
        return 2
    lifeline = int(argv[0])
    command = argv[2:]
    server = os.fork()
    if server == 0:
        os.close(lifeline)
        try:
            os.execvp(command[0], command)  # noqa: S606 - the server command, as given
        except OSError as exc:
            print(f"cannot run {command[0]}: {exc}", file=sys.stderr, flush=True)
        os._exit(127)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        finished, status = os.waitpid(server, os.WNOHANG)
        if finished:
            return _exit_code(status)
        readable, _, _ = select.select([lifeline], [], [], 0.5)
        if readable and not os.read(lifeline, 1):
            return _stop(server)


def _stop(server: int) -> int:
    """The starter is gone: stop the server as `Component.stop` would."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(server, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        finished, status = os.waitpid(server, os.WNOHANG)
        if finished:
            return _exit_code(status)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(server, signal.SIGKILL)
    return _exit_code(os.waitpid(server, 0)[1])


def _exit_code(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
