"""Shared state on the host: every incident's journal and the release log, kept under the artifacts
dir (``<artifacts_dir>/incident-console/``: files 0600 in 0700 directories) so that a second
on-caller with the same config and an empty state dir can list, resume and report an incident the
first console started.

The local journal stays the fsynced primary. The host copy is appended to in the background, in
order, from the byte offset the host already has: a slow or unreachable host never holds the
procedure up, nothing is queued in memory (the local file *is* the queue), and a failed append is
retried on the next record or when the session closes. The first failure is journaled as a note,
once; so is the recovery.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from console.config import Config
from console.failures import TransportError
from console.incident.journal import JOURNAL_NAME, Journal, fsync_directory
from console.transport.base import Transport

HOST_DIR_NAME = "incident-console"
RELEASE_LOG_NAME = "releases.toml"
CHUNK = 256 * 1024  # bytes per append command
TIMEOUT = 30.0  # seconds per host command
RETRY_AFTER = 5.0  # seconds between retries of a failing host
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class HostStateError(ValueError):
    """The host copy cannot be used (bad incident id, unreadable answer)."""


# -- where things live on the host ---------------------------------------------------------------
def host_root(config: Config) -> str:
    return f"{config.target.artifacts_dir.rstrip('/')}/{HOST_DIR_NAME}"


def host_incidents_dir(config: Config) -> str:
    return f"{host_root(config)}/incidents"


def host_journal(config: Config, incident_id: str) -> str:
    if not _ID.match(incident_id or ""):
        raise HostStateError(f"not an incident id: {incident_id!r}")
    return f"{host_incidents_dir(config)}/{incident_id}/{JOURNAL_NAME}"


def host_release_log(config: Config) -> str:
    return f"{host_root(config)}/{RELEASE_LOG_NAME}"


def enabled(config: Config) -> bool:
    return bool(getattr(config.paths, "host_state", True))


# -- pure command builders ------------------------------------------------------------------------
_APPEND = (
    'umask 077 && mkdir -p -- "$2" && chmod 700 -- "$1" "$1/incidents" "$2" && '
    'touch -- "$3" && chmod 600 -- "$3" && cat >> "$3"'
)


def append_argv(root: str, incident_dir: str, file: str) -> list[str]:
    """Append stdin to ``file`` (created 0600; its directories 0700)."""
    return ["sh", "-c", _APPEND, "sh", root, incident_dir, file]


def size_argv(file: str) -> list[str]:
    """Print the size of ``file`` in bytes (0 when it does not exist)."""
    return ["sh", "-c", 'if [ -f "$1" ]; then wc -c < "$1"; else echo 0; fi', "sh", file]


def list_argv(incidents_dir: str) -> list[str]:
    """Print one incident id per line: the directories holding a journal."""
    return [
        "sh",
        "-c",
        f'cd -- "$1" 2>/dev/null || exit 0; for d in *; do '
        f'[ -f "$d/{JOURNAL_NAME}" ] && printf "%s\\n" "$d"; done; exit 0',
        "sh",
        incidents_dir,
    ]


def read_argv(file: str) -> list[str]:
    """Print ``file``; exit 3 when it does not exist."""
    return ["sh", "-c", 'if [ -f "$1" ]; then cat -- "$1"; else exit 3; fi', "sh", file]


def replace_argv(root: str, file: str) -> list[str]:
    """Replace ``file`` with stdin atomically (a temporary file renamed over it), 0600 in 0700."""
    return [
        "sh",
        "-c",
        'umask 077 && mkdir -p -- "$1" && chmod 700 -- "$1" && '
        'cat > "$2.tmp.$$" && chmod 600 -- "$2.tmp.$$" && mv -f -- "$2.tmp.$$" "$2"',
        "sh",
        root,
        file,
    ]


MISSING_EXIT = 3


# -- the journal's host copy ----------------------------------------------------------------------
class HostMirror:
    """Keeps one journal's host copy up to date. ``attach`` hooks it to the journal's appends;
    ``flush`` sends what the host lacks (awaited by the session at its end, bounded)."""

    def __init__(self, config: Config, journal: Journal, transport: Transport) -> None:
        self.config = config
        self.journal = journal
        self.transport = transport
        self.file = host_journal(config, journal.incident_id)
        self._synced: int | None = None  # bytes of the local journal the host has
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._failed_at: float | None = None
        self._noted = False

    def attach(self) -> None:
        if self.notify not in self.journal.listeners:
            self.journal.listeners.append(self.notify)

    def detach(self) -> None:
        if self.notify in self.journal.listeners:
            self.journal.listeners.remove(self.notify)

    def notify(self) -> None:
        """A record was appended: flush in the background (never awaited by the writer)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous command): the next session's flush sends it
        if self._task is not None and not self._task.done():
            return  # the running flush loops until the host has everything
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER:
            return
        self._task = loop.create_task(self.flush())

    async def flush(self) -> bool:
        """Send everything the host lacks; True when the host copy is complete."""
        async with self._lock:
            while True:
                try:
                    data = self._pending()
                    while data:
                        await self._send(data)
                        data = self._pending()
                except (TransportError, OSError, HostStateError) as exc:
                    self._failed_at = time.monotonic()
                    self._synced = None  # ask the host again next time: an append may have landed
                    if not self._noted:
                        self._noted = True
                        self._note(
                            f"the host copy of this journal ({self.file}) is behind: {exc}; "
                            f"the local journal is complete, the console retries"
                        )
                    return False
                self._failed_at = None
                if not self._noted:
                    return True
                self._noted = False
                self._note(f"the host copy of this journal ({self.file}) caught up")  # sent by the next turn

    async def close(self, seconds: float = 15.0) -> bool:
        """The session ends: one bounded last flush."""
        self.detach()
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), seconds)
            except Exception:
                pass
        try:
            return await asyncio.wait_for(self.flush(), seconds)
        except TimeoutError:
            return False

    def _note(self, text: str) -> None:
        self.journal.record("note", by="console", text=text)

    def _pending(self) -> bytes:
        if self._synced is None:
            return b"?"  # unknown: _send asks the host first
        try:
            with open(self.journal.path, "rb") as handle:
                handle.seek(self._synced)
                data = handle.read(CHUNK)
        except FileNotFoundError:
            return b""
        end = data.rfind(b"\n") + 1  # whole lines only
        return data[:end]

    async def _send(self, data: bytes) -> None:
        if self._synced is None:
            self._synced = await self._host_agrees()
            return
        root, incident_dir = host_root(self.config), self.file.rsplit("/", 1)[0]
        result = await self.transport.run(
            append_argv(root, incident_dir, self.file), timeout=TIMEOUT, stdin=data, capture=True
        )
        if not result.ok:
            raise HostStateError(f"append failed ({_why(result)})")
        self._synced += len(data)

    async def _host_agrees(self) -> int:
        """How much of this journal the host copy already holds (whole lines). A host copy that is
        this journal's prefix plus an unfinished line (a console died mid-append) is cut back."""
        result = await self.transport.run(size_argv(self.file), timeout=TIMEOUT, capture=True)
        if not result.ok or not result.stdout.strip().isdigit():
            raise HostStateError(f"cannot read its size ({_why(result)})")
        host_size = int(result.stdout.strip())
        with open(self.journal.path, "rb") as handle:
            local = handle.read()
        if host_size == 0:
            return 0
        result, text = await _read(self.transport, read_argv(self.file))
        if not result.ok:
            raise HostStateError(f"cannot read it ({_why(result)})")
        data = text.encode("utf-8")
        agreed = 0
        for end in (i + 1 for i, byte in enumerate(local) if byte == 0x0A):
            if end > len(data) or data[agreed:end] != local[agreed:end]:
                break
            agreed = end
        if agreed == host_size:
            return agreed
        whole = data[:host_size]
        if agreed < host_size and b"\n" not in whole[agreed:]:  # only an unfinished line beyond: cut it
            cut = await self.transport.run(truncate_argv(self.file, agreed), timeout=TIMEOUT, capture=True)
            if cut.ok:
                return agreed
        raise HostStateError(
            f"the host copy ({host_size} bytes) is not this journal's beginning: another console wrote to it"
        )


def truncate_argv(file: str, size: int) -> list[str]:
    return ["truncate", "-s", str(int(size)), "--", file]


def _why(result) -> str:
    if result.exit_status is None:
        return "the link dropped"
    return (result.stderr or "").strip()[-200:] or f"exit {result.exit_status}"


async def _read(transport: Transport, argv: list[str]):
    """Run ``argv``; its whole stdout (a capture keeps only the end of a long output)."""
    lines: list[str] = []

    def collect(stream: str, batch: list[str]) -> None:
        if stream == "stdout":
            lines.extend(batch)

    result = await transport.run(argv, timeout=TIMEOUT, on_output=collect, capture=True)
    return result, "".join(f"{line}\n" for line in lines)


# -- reading the host copy --------------------------------------------------------------------------
async def host_incident_ids(config: Config, transport: Transport) -> list[str]:
    result = await transport.run(list_argv(host_incidents_dir(config)), timeout=TIMEOUT, capture=True)
    if not result.ok:
        raise HostStateError(f"cannot list {host_incidents_dir(config)} on the host ({_why(result)})")
    return sorted({line.strip() for line in result.stdout.splitlines() if _ID.match(line.strip())}, reverse=True)


async def read_host_journal(config: Config, transport: Transport, incident_id: str) -> bytes | None:
    """The host copy of ``incident_id``'s journal (whole lines), or None when the host has none."""
    result, text = await _read(transport, read_argv(host_journal(config, incident_id)))
    if result.exit_status == MISSING_EXIT:
        return None
    if not result.ok:
        raise HostStateError(f"cannot read the host copy of {incident_id} ({_why(result)})")
    data = text.encode("utf-8")
    return data[: data.rfind(b"\n") + 1]


def install_journal(state_dir: Path, incident_id: str, data: bytes) -> Journal:
    """Write a journal fetched from the host into ``state_dir`` (fsynced, 0600 in 0700)."""
    journal = Journal.create(state_dir, incident_id)
    fd = os.open(journal.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(journal.directory)
    return Journal(journal.directory)


async def fetch_incident(config: Config, transport: Transport, incident_id: str) -> Journal | None:
    """Bring ``incident_id``'s journal from the host into the local state dir (None: not on the host)."""
    data = await read_host_journal(config, transport, incident_id)
    if data is None:
        return None
    return install_journal(config.paths.state_dir, incident_id, data)


# -- the release log --------------------------------------------------------------------------------
async def pull_release_log(config: Config, transport: Transport) -> bool:
    """The host's release log replaces the local cache (host wins). False: the host has none."""
    result, text = await _read(transport, read_argv(host_release_log(config)))
    if result.exit_status == MISSING_EXIT:
        return False
    if not result.ok:
        raise HostStateError(f"cannot read the host's release log ({_why(result)})")
    from console.release.release_log import ReleaseLog, ReleaseLogError

    path = Path(config.paths.release_log)
    tmp = path.with_name(f".{path.name}.host")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    try:
        ReleaseLog.load(tmp)  # a broken host copy never replaces a good local one
    except ReleaseLogError as exc:
        tmp.unlink()
        raise HostStateError(f"the host's release log is not usable: {exc}") from None
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return True


async def push_release_log(config: Config, transport: Transport) -> bool:
    """Copy the local release log to the host (atomically). False: there is no local log."""
    path = Path(config.paths.release_log)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    result = await transport.run(
        replace_argv(host_root(config), host_release_log(config)), timeout=TIMEOUT, stdin=data, capture=True
    )
    if not result.ok:
        raise HostStateError(f"cannot write the host's release log ({_why(result)})")
    return True


async def sync_release_log(config: Config, transport: Transport, on_error: Callable[[str], None]) -> None:
    """Host wins: pull it when the host has one, else seed the host from the local log."""
    try:
        if not await pull_release_log(config, transport):
            await push_release_log(config, transport)
    except (HostStateError, TransportError, OSError) as exc:
        on_error(str(exc))


async def sync_release_log_up(config: Config, transport: Transport, on_error: Callable[[str], None]) -> None:
    """After a run changed the local release log: the host gets it."""
    try:
        await push_release_log(config, transport)
    except (HostStateError, TransportError, OSError) as exc:
        on_error(str(exc))


# -- for the commands: one short visit to the host -------------------------------------------------
async def host_summaries(config: Config, transport: Transport, local_ids: set[str]) -> list:
    """The incidents the host has and this state dir does not, summarised (newest first)."""
    import tempfile

    summaries = []
    for incident_id in await host_incident_ids(config, transport):
        if incident_id in local_ids:
            continue
        data = await read_host_journal(config, transport, incident_id)
        if not data:
            continue
        with tempfile.TemporaryDirectory(prefix="incident-console-host-") as tmp:
            journal = install_journal(Path(tmp), incident_id, data)
            if journal.state.opened is not None:
                summaries.append(journal.state.summary())
    return summaries


async def prepare(config: Config, transport: Transport, incident_id: str | None, warn: Callable[[str], None]) -> bool:
    """Before resuming or reporting ``incident_id`` here: the host's release log (host wins) and,
    when this state dir lacks it, the incident's journal from the host. True: it was fetched."""
    await sync_release_log(config, transport, warn)
    if incident_id is None or (Path(config.paths.state_dir) / "incidents" / incident_id / JOURNAL_NAME).exists():
        return False
    return await fetch_incident(config, transport, incident_id) is not None


def visit(config: Config, work: Callable[[Transport], Awaitable], warn: Callable[[str], None]):
    """Connect, ``await work(transport)``, close; an unreachable host is a warning (None)."""
    from console.engine.incident import make_transport

    async def go():
        transport = make_transport(config)
        try:
            await transport.connect()
            return await work(transport)
        finally:
            await transport.close()

    try:
        return asyncio.run(go())
    except (TransportError, HostStateError, OSError) as exc:
        warn(f"the host's shared state is not available ({exc}); using this machine's copy only")
        return None


__all__ = [
    "HostMirror",
    "HostStateError",
    "append_argv",
    "enabled",
    "fetch_incident",
    "host_incident_ids",
    "host_summaries",
    "prepare",
    "visit",
    "host_journal",
    "host_release_log",
    "install_journal",
    "list_argv",
    "pull_release_log",
    "push_release_log",
    "read_argv",
    "read_host_journal",
    "replace_argv",
    "size_argv",
    "sync_release_log",
]
