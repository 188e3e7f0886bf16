"""The remote lock as the engine uses it: take, refuse with who holds it, release, force."""

from __future__ import annotations

from console.commands import lock as lock_cmd
from console.incident.journal import iso, utc_now
from console.transport.base import Transport


class LockHeld(Exception):
    """Another console (or an unfinished incident) holds the lock."""

    def __init__(self, lock_dir: str, info: dict) -> None:
        self.lock_dir = lock_dir
        self.info = info
        holder = info.get("holder") or "unknown"
        since = info.get("since") or "unknown time"
        incident = info.get("incident_id") or "unknown incident"
        machine = f" on {info['machine']}" if info.get("machine") else ""
        age = lock_age(info.get("since"))
        super().__init__(
            f"the host is locked by {holder}{machine} (incident {incident}) since {since}{age}; "
            f"wait for them, or resume that incident, or force it with "
            f"`incident-console unlock --force` after talking to them"
        )


def lock_age(since: str | None, now=None) -> str:
    """ " (12 min ago)" from the lock's ISO time; "" when it cannot be read."""
    from console.incident.records import parse_iso

    try:
        seconds = ((now or utc_now()) - parse_iso(since)).total_seconds() if since else None
    except (TypeError, ValueError):
        seconds = None
    if seconds is None or seconds < 0:
        return ""
    if seconds < 120:
        return f" ({int(seconds)} s ago)"
    if seconds < 7200:
        return f" ({int(seconds // 60)} min ago)"
    return f" ({seconds / 3600:.1f} h ago)"


class LockError(Exception):
    """The lock could not be taken for a reason other than another holder."""


class RemoteLock:
    def __init__(self, transport: Transport, project_dir: str, holder: str, incident_id: str) -> None:
        self.transport = transport
        self.project_dir = project_dir
        self.lock_dir = lock_cmd.default_lock_dir(project_dir)
        self.holder = holder
        self.incident_id = incident_id
        self.held = False

    async def acquire(self) -> None:
        argv = lock_cmd.acquire_lock(self.lock_dir, self.project_dir, self.holder, self.incident_id, iso(utc_now()))
        result = await self.transport.run(argv, timeout=30, capture=True)
        if result.ok:
            self.held = True
            return
        if lock_cmd.lock_held(result.exit_status, result.stderr):
            info = await self.read()
            if info.get("incident_id") == self.incident_id:
                # Our own lock from before a crash or a dropped link: a resume continues under it.
                self.held = True
                return
            raise LockHeld(self.lock_dir, info)
        raise LockError(f"could not create {self.lock_dir}: {result.stderr.strip() or result.exit_status}")

    async def read(self) -> dict:
        """{} when the host is not locked; otherwise holder, incident and since (None when the
        lock has no readable info file, with ``unreadable`` set: it can still be forced)."""
        result = await self.transport.run(
            lock_cmd.lock_state(self.lock_dir, self.project_dir), timeout=30, capture=True
        )
        if result.exit_status == lock_cmd.NOT_LOCKED_EXIT:
            return {}
        if not result.ok:
            raise LockError(f"cannot read {self.lock_dir}: {result.stderr.strip() or result.exit_status}")
        info = lock_cmd.parse_lock_info(result.stdout)
        found: dict[str, str | bool | None] = {
            "holder": info.holder,
            "incident_id": info.incident_id,
            "since": info.since,
        }
        if not any(found.values()):
            found["unreadable"] = True
        return found

    async def release(self) -> None:
        """Release our lock; one that is no longer ours (force-unlocked, then retaken) stays."""
        result = await self.transport.run(
            lock_cmd.release_own_lock(self.lock_dir, self.project_dir, self.incident_id), timeout=30, capture=True
        )
        if result.exit_status == lock_cmd.LOCK_NOT_OURS_EXIT:
            self.held = False
            raise LockError(
                f"{self.lock_dir} now belongs to another incident (force-unlocked and taken again?): left in place"
            )
        if not result.ok:
            raise LockError(result.stderr.strip() or f"exit {result.exit_status}")
        self.held = False

    async def force_release(self) -> None:
        """`unlock --force`: remove the lock whoever holds it (asked and journaled by the caller)."""
        result = await self.transport.run(
            lock_cmd.release_lock(self.lock_dir, self.project_dir), timeout=30, capture=True
        )
        if not result.ok:
            raise LockError(result.stderr.strip() or f"exit {result.exit_status}")
        self.held = False
