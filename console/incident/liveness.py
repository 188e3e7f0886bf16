"""Is the console that started a procedure still there?

A console killed with SIGKILL (or a machine that lost power) writes no end record: its
incident would read "running" for ever. Each procedure start records which process runs it
(pid, its start time, the machine); a reader on the same machine can tell whether that
process still exists. From another machine nobody can tell: the answer is None, unknown.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime

from console.incident.journal import utc_now
from console.incident.records import ProcedureStarted, parse_iso
from console.procfs import stat_fields


def machine_name() -> str:
    return socket.gethostname()


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    try:
        return int(fields[19])
    except (ValueError, IndexError):
        return None


def this_console() -> dict:
    """Fields a procedure start records about the process running it."""
    pid = os.getpid()
    return {"pid": pid, "pid_started": _start_ticks(pid), "machine": machine_name()}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


def _console_field(console: ProcedureStarted | Mapping | None, name: str):
    """``console`` is a ``procedure_started`` record, or the mapping :func:`this_console` returns."""
    if console is None:
        return None
    if isinstance(console, Mapping):
        return console.get(name)
    return getattr(console, name, None)


def console_alive(record: ProcedureStarted | Mapping | None) -> bool | None:
    """Is the console named by ``record`` (a procedure start) still running?

    False: it ran on this machine and its process is gone (or the pid now belongs to a
    process started later). None: it ran elsewhere, or the record predates these fields.
    """
    if not record:
        return None
    pid, machine = _console_field(record, "pid"), _console_field(record, "machine")
    if not isinstance(pid, int) or pid <= 0 or not machine or machine != machine_name():
        return None
    if not pid_alive(pid):
        return False
    started = _console_field(record, "pid_started")
    if started is not None and _start_ticks(pid) not in (None, started):
        return False  # the pid was reused by another process
    return True


def age(since: str | None, now: datetime | None = None) -> str:
    """How long ago an ISO timestamp was, for people: "3 min", "2 h 5 min"."""
    if not since:
        return "unknown age"
    try:
        seconds = max(0, int(((now or utc_now()) - parse_iso(since)).total_seconds()))
    except ValueError:
        return "unknown age"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def describe_lock(lock_dir: str, info: dict, console: ProcedureStarted | Mapping | None) -> str:
    """The lock as an operator needs to see it before taking it over: who, where, how old, alive."""
    where = _console_field(console, "machine") or "an unknown machine"
    pid = _console_field(console, "pid")
    state = {True: "still running", False: "gone", None: "state unknown from here"}[console_alive(console)]
    taken = f", taken {age(info['since'])} ago" if info.get("since") else ""
    return (
        f"lock {lock_dir}: held by {info.get('holder') or 'unknown'} on {where}"
        f"{f' (console pid {pid}, {state})' if pid else ''} for incident "
        f"{info.get('incident_id') or 'unknown'}{taken}"
    )
