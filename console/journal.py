"""The incident journal: one directory per incident, an append-only JSON Lines file.

Every record is flushed and fsynced before ``record`` returns, so a crash or a
power cut loses at most the event being written. Full command output goes to a
side file under ``outputs/``; the journal keeps its sha256 digest.

Record shape: ``{"seq": 1, "ts": "2026-11-25T13:37:08.123456Z", "type": "...", ...}``.
Types used across the product (see docs in README):
  incident_opened, decision, decision_retracted, override, matrix_mark, checklist, procedure_started,
  step_started, step_finished, step_failed, step_skipped, step_confirmed, lock,
  procedure_finished, procedure_interrupted, health, notification, artifact,
  migration_decision, retro, incident_resolved, note, metrics_check, alert_silence.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

from console.secrets import REDACTED, Secret

JOURNAL_NAME = "journal.jsonl"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def new_incident_id(now: datetime | None = None) -> str:
    now = now or utc_now()
    return now.strftime("%Y%m%d-%H%M%S-") + _random.token_hex(2)


def _scrub(value: Any) -> Any:
    """Make a value JSON-safe; a Secret anywhere becomes the redaction marker."""
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, dict):
        return {str(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass
class Journal:
    """Writes and reads one incident's journal."""

    directory: Path

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.path = self.directory / JOURNAL_NAME
        self._seq = 0
        self._tail_checked = False   # a torn last line is cut before this object's first append
        if self.path.exists():
            for record in self.records():
                self._seq = max(self._seq, int(record.get("seq", 0)))

    @property
    def incident_id(self) -> str:
        return self.directory.name

    @classmethod
    def create(cls, state_dir: Path, incident_id: str | None = None) -> "Journal":
        directory = Path(state_dir) / "incidents" / (incident_id or new_incident_id())
        (directory / "outputs").mkdir(parents=True, exist_ok=False)
        os.chmod(directory, 0o700)
        return cls(directory)

    def record(self, type_: str, **fields: Any) -> dict:
        if not self._tail_checked:
            self._tail_checked = True
            self._cut_torn_tail()
        self._seq += 1
        entry = {"seq": self._seq, "ts": iso(utc_now()), "type": type_, **_scrub(fields)}
        line = json.dumps(entry, ensure_ascii=False, sort_keys=False) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def write_output(self, name: str, data: bytes) -> tuple[str, str]:
        """Store full output in a side file; return (relative path, sha256 hex)."""
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
        self.record("note", by="console", torn_file=side.name, torn_bytes=len(fragment),
                    text=f"journal repaired: an unfinished last record ({len(fragment)} bytes, "
                         f"a crash mid-write) was moved to {side.name}")

    def records(self) -> Iterator[dict]:
        """Replay the journal; a torn or unreadable line (crash mid-write) is skipped.

        Lines are decoded one by one: a line torn inside a UTF-8 character is as unreadable
        as one torn inside the JSON, and neither hides the records around it.
        """
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                try:
                    record = json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    continue
                if isinstance(record, dict) and "type" in record:
                    yield record

    def last(self, type_: str) -> dict | None:
        found = None
        for record in self.records():
            if record["type"] == type_:
                found = record
        return found


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
