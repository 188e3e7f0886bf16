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


# util-linux ``setsid -w`` waits for the command and passes on its exit status. BusyBox's
# setsid (Alpine) has no ``-w``: there the new session is started as a background job, which
# in a non-interactive shell is no group leader, so setsid does not fork and ``$!`` is the
# session leader ``wait`` returns the status of. A background job's stdin would be /dev/null:
# fd 3 hands it the real one (a config hotfix's values come on stdin).
_START_SESSION = (
    "r=$1; shift; "
    'if setsid -w true 2>/dev/null; then exec setsid -w sh -c "$r" sh "$@"; fi; '
    'exec 3<&0; setsid sh -c "$r" sh "$@" <&3 3<&- & wait $!'
)


def wrap_in_process_group(argv: list[str]) -> str:
    """The remote command line: ``argv`` run as the leader of a fresh session and group,
    whose exit status is the command's (with util-linux or BusyBox ``setsid``)."""
    if not argv:
        raise ValueError("empty argv")
    return shlex.join(["exec", "sh", "-c", _START_SESSION, "sh", _REPORT_THEN_EXEC, *argv])


def parse_marker(line: str) -> int | None:
    """The PGID announced by :func:`wrap_in_process_group` on stderr, if ``line`` is that line.

    Not necessarily the first line: a login shell may print a banner or a warning before it.
    """
    if not line.startswith(PGID_MARKER):
        return None
    value = line[len(PGID_MARKER) :].strip()
    return int(value) if value.isdigit() and int(value) > 1 else None


def kill_group_argv(pgid: int, grace: float) -> list[str]:
    """A command that terminates process group ``pgid``, escalating to KILL after ``grace`` s."""
    if pgid <= 1:
        raise ValueError(f"refusing to signal process group {pgid}")
    steps = max(int(grace * 10), 1)
    return ["sh", "-c", _KILL_GROUP, "sh", str(pgid), str(steps)]
