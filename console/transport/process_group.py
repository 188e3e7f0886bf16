"""Running a remote command in its own process group, so it can be killed whole.

Closing an SSH channel, or asyncssh's ``terminate()``, reaches only the remote
shell; a child it started (``sh -c 'sleep 300; echo done'``) keeps running.
So every remote command is started under ``setsid`` and first reports its
process group id on stderr; on timeout or cancel we kill that group over the
same connection.
"""

from __future__ import annotations

import shlex

PGID_MARKER = "__incident_console_pgid__:"

# $$ of the shell started by setsid is the new group's leader, hence its PGID.
_REPORT_THEN_EXEC = f'echo {PGID_MARKER}$$ >&2; exec "$@"'

# TERM the group, give it ``$2`` tenths of a second to go, then KILL what is left.
# No ``--`` before the negative PGID: dash's kill rejects it ("Illegal number").
_KILL_GROUP = (
    'p=$1; kill -TERM "-$p" 2>/dev/null || exit 0; i=0; '
    'while [ "$i" -lt "$2" ]; do kill -0 "-$p" 2>/dev/null || exit 0; sleep 0.1; i=$((i+1)); done; '
    'kill -KILL "-$p" 2>/dev/null; exit 0'
)


def wrap_in_process_group(argv: list[str]) -> str:
    """The remote command line: ``argv`` run as the leader of a fresh session and group.

    ``setsid -w`` waits for the command and passes on its exit status.
    """
    if not argv:
        raise ValueError("empty argv")
    return shlex.join(["exec", "setsid", "-w", "sh", "-c", _REPORT_THEN_EXEC, "sh", *argv])


def parse_marker(line: str) -> int | None:
    """The PGID announced by :func:`wrap_in_process_group`'s first stderr line, if this is it."""
    if not line.startswith(PGID_MARKER):
        return None
    value = line[len(PGID_MARKER):].strip()
    return int(value) if value.isdigit() and int(value) > 1 else None


def kill_group_argv(pgid: int, grace: float) -> list[str]:
    """A command that terminates process group ``pgid``, escalating to KILL after ``grace`` s."""
    if pgid <= 1:
        raise ValueError(f"refusing to signal process group {pgid}")
    steps = max(int(grace * 10), 1)
    return ["sh", "-c", _KILL_GROUP, "sh", str(pgid), str(steps)]
