"""The remote incident lock: one console at a time may change the stack.

As Kamal's lock: ``mkdir`` is atomic on the host, so whoever creates the directory
holds the lock; an ``info`` file inside says who, for which incident, since when.
All values reach the script as positional parameters, never as script text.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.commands.base import argv, sh
from console.validate import UnsafeValue, require_holder, require_incident_id, require_iso_time, require_remote_path

LOCK_NAME = ".incident-console.lock"
# Exit status of acquire_lock when the lock directory already exists (EX_TEMPFAIL):
# independent of the host's language, unlike mkdir's message.
LOCK_HELD_EXIT = 75
# Exit status of release_own_lock when the lock on the host is not this incident's any more
# (force-unlocked and taken by someone else): it is left in place.
LOCK_NOT_OURS_EXIT = 76
# Exit status of lock_state when there is no lock directory at all.
NOT_LOCKED_EXIT = 3

_RELEASE_OWN = '[ -d "$1" ] || exit 0\ngrep -qxF "incident=$2" "$1/info" 2>/dev/null || exit 76\nrm -rf -- "$1"\n'
_STATE = '[ -d "$1" ] || exit 3\ncat -- "$1/info" 2>/dev/null\nexit 0\n'

# If the info file cannot be written the directory is removed again, so a half-taken
# lock never blocks the next operator without saying who holds it.
_ACQUIRE = (
    'if ! LC_ALL=C mkdir -- "$1"; then [ -d "$1" ] && exit 75; exit 1; fi\n'
    'if ! printf "holder=%s\\nincident=%s\\nsince=%s\\n" "$2" "$3" "$4" > "$1/info"; then\n'
    '  rm -f -- "$1/info"; rmdir -- "$1"; exit 1\n'
    "fi\n"
)


def default_lock_dir(project_dir: str) -> str:
    return f"{require_remote_path(project_dir, 'project directory')}/{LOCK_NAME}"


def require_lock_dir(lock_dir: str, project_dir: str) -> str:
    """The lock directory must be ``<project_dir>/.incident-console.lock`` or below the project."""
    lock_dir = require_remote_path(lock_dir, "lock directory")
    project = require_remote_path(project_dir, "project directory")
    if not lock_dir.startswith(project.rstrip("/") + "/") or not lock_dir.endswith("/" + LOCK_NAME):
        raise UnsafeValue(f"refusing lock directory {lock_dir!r}: it must be inside {project!r} and named {LOCK_NAME}")
    return lock_dir


def acquire_lock(lock_dir: str, project_dir: str, holder: str, incident_id: str, since_iso: str) -> list[str]:
    return sh(
        _ACQUIRE,
        require_lock_dir(lock_dir, project_dir),
        require_holder(holder),
        require_incident_id(incident_id),
        require_iso_time(since_iso),
    )


def read_lock(lock_dir: str, project_dir: str) -> list[str]:
    return argv("cat", "--", f"{require_lock_dir(lock_dir, project_dir)}/info")


def release_lock(lock_dir: str, project_dir: str) -> list[str]:
    """Remove the lock whoever holds it: only for an explicit, confirmed force-unlock."""
    return argv("rm", "-rf", "--", require_lock_dir(lock_dir, project_dir))


def release_own_lock(lock_dir: str, project_dir: str, incident_id: str) -> list[str]:
    """Remove the lock only while it is still this incident's (exit 76 otherwise, 0 if gone)."""
    return sh(_RELEASE_OWN, require_lock_dir(lock_dir, project_dir), require_incident_id(incident_id))


def lock_state(lock_dir: str, project_dir: str) -> list[str]:
    """Exit 3: not locked; exit 0: locked, with the info file's text (empty if it is missing)."""
    return sh(_STATE, require_lock_dir(lock_dir, project_dir))


def lock_held(exit_status: int | None, stderr: str = "") -> bool:
    """Did :func:`acquire_lock` fail because another console holds the lock?"""
    return exit_status == LOCK_HELD_EXIT or (exit_status not in (0, None) and lock_held_from_stderr(stderr))


def lock_held_from_stderr(stderr: str) -> bool:
    """Did ``mkdir`` fail because the lock directory already exists?

    Only "File exists" means held: "cannot create directory" alone also covers
    "Permission denied" and "No such file or directory", which are setup problems
    that must not be reported as another operator holding the lock.
    """
    return "File exists" in stderr


@dataclass(frozen=True)
class LockInfo:
    holder: str | None
    incident_id: str | None
    since: str | None

    def describe(self) -> str:
        return (
            f"held by {self.holder or 'unknown'} for incident {self.incident_id or 'unknown'}"
            f" since {self.since or 'unknown'}"
        )


def parse_lock_info(text: str) -> LockInfo:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("holder", "incident", "since") and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    return LockInfo(
        holder=fields.get("holder") or None,
        incident_id=fields.get("incident") or None,
        since=fields.get("since") or None,
    )
