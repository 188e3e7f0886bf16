"""The incident journal: one directory per incident, an append-only JSON Lines file.

Every record is flushed and fsynced before ``record`` returns, so a crash or a
power cut loses at most the event being written. Full command output goes to a
side file under ``outputs/``; the journal keeps its sha256 digest.

Records are the typed classes of ``console.incident.records``; a line is
``{"v": 2, "seq": 1, "ts": "2026-11-25T13:37:08.123456Z", "type": "...", ...}`` (older lines have no
``v`` and are read into the same classes). The journal keeps what it has read and folds it into an
``IncidentState`` as it goes: a query never re-parses the file, and a journal another process
appended to is read from where this one stopped.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets as _random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from console.incident.records import Record, build, from_line, iso, scrub
from console.incident.state import IncidentState

R = TypeVar("R", bound=Record)

JOURNAL_NAME = "journal.jsonl"


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_incident_id(now: datetime | None = None) -> str:
    now = now or utc_now()
    return now.strftime("%Y%m%d-%H%M%S-") + _random.token_hex(2)


_scrub = scrub


@dataclass
class Journal:
    """Writes and reads one incident's journal; keeps what it has read, folded into ``state``."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.path = self.directory / JOURNAL_NAME
        self._seq = 0
        self._tail_checked = False  # a torn last line is cut before this object's first append
        self._offset = 0  # bytes of the file already read (whole lines only)
        self._state = IncidentState(incident_id=self.directory.name)
        self.listeners: list = []  # called with no argument after each fsynced append (the host copy)

    @property
    def incident_id(self) -> str:
        return self.directory.name

    @classmethod
    def create(cls, state_dir: Path, incident_id: str | None = None) -> Journal:
        directory = Path(state_dir) / "incidents" / (incident_id or new_incident_id())
        (directory / "outputs").mkdir(parents=True, exist_ok=False)
        os.chmod(directory, 0o700)
        # The new directory entries are durable too, or a power cut can lose the whole incident.
        for synced in (directory, directory.parent, directory.parent.parent):
            fsync_directory(synced)
        return cls(directory)

    # -- writing ---------------------------------------------------------------------------
    def append(self, record: R) -> R:
        """Journal ``record`` (fsynced before this returns); the stamped record as read back."""
        if not record.JOURNALED:
            raise ValueError(f"{record.kind} is an event, not a journal record")
        if not self._tail_checked:
            self._tail_checked = True
            self._cut_torn_tail()
        self._refresh()
        self._seq += 1
        line = json.dumps(record.stamped(self._seq, iso(utc_now())).to_line(), ensure_ascii=False) + "\n"
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            try:
                append_whole(fd, line.encode("utf-8"))
            except OSError:
                self._seq -= 1
                self._tail_checked = False  # should a fragment remain, the next record moves it aside
                raise
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_directory(self.directory)
        self._refresh()
        stamped = cast(R, self._state.records[-1])  # read back from its line: the same kind, so the same class
        for listener in list(self.listeners):
            listener()
        return stamped

    def record(self, type_: str, **fields: Any) -> Record:
        """Compatibility shape ``record("kind", **fields)``: the typed record of that kind (fields
        its class does not declare are kept in ``extra``; an unknown kind is an ``UnknownRecord``)."""
        return self.append(build(type_, fields))

    def write_output(self, name: str, data: bytes) -> tuple[str, str]:
        """Store full output in a side file; return (relative path, sha256 hex)."""
        self._refresh()
        digest = hashlib.sha256(data).hexdigest()
        rel = f"outputs/{self._seq + 1:05d}-{name}.log"
        path = self.directory / rel
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return rel, digest

    def _cut_torn_tail(self) -> None:
        """Before appending: move a torn last line (a crash mid-write) to a side file.

        Appending onto the fragment would glue the next record to it and make that record
        unreadable. Nothing is dropped: the fragment is kept as ``journal.torn-<seq>``, and a
        note in the journal says where.
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        self._refresh()
        with open(self.path, "r+b") as handle:
            cut = _end_of_last_line(handle, size)
            if cut == size:
                return
            handle.seek(cut)
            fragment = handle.read()
            side = self.directory / f"journal.torn-{self._seq + 1:05d}"
            with open(side, "wb") as out:
                out.write(fragment)
                out.flush()
                os.fsync(out.fileno())
            handle.truncate(cut)
            handle.flush()
            os.fsync(handle.fileno())
        self.record(
            "note",
            by="console",
            torn_file=side.name,
            torn_bytes=len(fragment),
            text=f"journal repaired: an unfinished last record ({len(fragment)} bytes, "
            f"a crash mid-write) was moved to {side.name}",
        )

    # -- reading ---------------------------------------------------------------------------
    def records(self) -> list[Record]:
        """Every record so far, typed, in journal order (read once; later calls read only what
        was appended since). A torn or unreadable line (crash mid-write) is skipped."""
        self._refresh()
        return list(self._state.records)

    @property
    def state(self) -> IncidentState:
        """The incident as its records so far leave it."""
        self._refresh()
        return self._state

    def _refresh(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size < self._offset:  # replaced or cut behind our back: start over
            self._offset, self._seq = 0, 0
            self._state = IncidentState(incident_id=self.directory.name)
        if size == self._offset:
            return
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read(size - self._offset)
        end = data.rfind(b"\n") + 1
        # Lines are decoded one by one: a line torn inside a UTF-8 character is as unreadable
        # as one torn inside the JSON, and neither hides the records around it.
        for line in data[:end].split(b"\n")[:-1]:
            try:
                raw = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if not isinstance(raw, dict) or "type" not in raw:
                continue
            record = from_line(raw)
            self._state.apply(record)
            self._seq = max(self._seq, record.seq)
        self._offset += end


def append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` to ``fd`` (opened O_APPEND) whole, or leave the file as it was and raise.

    ``os.write`` may write less than asked (a full disk, a signal): the rest is written in a
    loop. Should the disk refuse the rest, the fragment is cut off again, because a record
    glued to half of the one before it would make both unreadable.
    """
    start = os.fstat(fd).st_size
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "the journal accepted no bytes")
            view = view[written:]
    except OSError:
        try:
            os.ftruncate(fd, start)
        except OSError:
            pass
        raise


def fsync_directory(directory: Path) -> None:
    """Make ``directory``'s entries (a new file or subdirectory) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _end_of_last_line(handle, size: int, block: int = 64 * 1024) -> int:
    """The offset just after the file's last newline (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - block)
        handle.seek(start)
        chunk = handle.read(end - start)
        at = chunk.rfind(b"\n")
        if at >= 0:
            return start + at + 1
        end = start
    return 0


def list_incidents(state_dir: Path) -> list[Journal]:
    """Every incident under ``state_dir``, newest first."""
    root = Path(state_dir) / "incidents"
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if (d / JOURNAL_NAME).exists()]
    return [Journal(d) for d in sorted(dirs, key=lambda d: d.name, reverse=True)]


def open_incident(state_dir: Path, incident_id: str) -> Journal:
    if "/" in incident_id or incident_id.startswith("."):
        raise FileNotFoundError(f"no incident {incident_id!r}")
    directory = Path(state_dir) / "incidents" / incident_id
    if not (directory / JOURNAL_NAME).exists():
        raise FileNotFoundError(f"no incident {incident_id!r} under {state_dir}")
    return Journal(directory)
