"""A durable outbox, so an outage of Slack or Statuspage never costs a message
and never holds up the rollback.

Layout under ``<incident_dir>/outbox/``: one JSON file per pending message
(``000001-slack-incident_opened.json``), moved to ``sent/`` once delivered or to
``failed/`` when the service rejects it for good; ``state.json`` remembers what
later messages need (the Statuspage incident id). Every file is written to a
temporary name, fsynced and renamed, and a message is on disk *before* its
first attempt, so a crash at any point loses nothing and a fresh ``Outbox``
over the same directory resends what is left.

Messages of one channel go out strictly in order (a status page update must
not overtake the banner it updates); channels do not wait for each other.
Stored payloads never hold a secret: the sender resolves its credential at
send time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from console.incident.journal import iso, utc_now
from console.notify.delivery import DeliveryError
from console.secrets import Secret, redact_text

log = logging.getLogger(__name__)

OUTBOX_DIR = "outbox"
STATE_FILE = "state.json"

# How long the procedure-facing first attempt may take before the message is
# left to the background drain.
FIRST_ATTEMPT_TIMEOUT = 3.0
RETRY_TIMEOUT = 10.0
BASE_DELAY = 0.5
MAX_DELAY = 30.0


class Sender(Protocol):
    channel: str

    def secrets(self) -> list[Secret]: ...

    async def deliver(self, payload: dict, state: dict, timeout: float) -> dict: ...


@dataclass
class OutboxMessage:
    seq: int
    channel: str
    event: str
    payload: dict
    created_at: str
    attempts: int = 0
    last_error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.seq:06d}-{self.channel}-{self.event}.json"


def backoff_delay(attempts: int, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """0.5 s, 1 s, 2 s … doubling after each failed attempt, never above ``cap``."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    """Persist, send once, and keep retrying in the background until delivered."""

    def __init__(
        self,
        incident_dir: Path,
        senders: list[Sender] | dict[str, Sender],
        journal: Callable[..., Any] | None = None,
        *,
        secrets: Sequence[Secret] = (),
        first_timeout: float = FIRST_ATTEMPT_TIMEOUT,
        retry_timeout: float = RETRY_TIMEOUT,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self.directory = Path(incident_dir) / OUTBOX_DIR
        for sub in ("", "sent", "failed"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if isinstance(senders, dict):
            self.senders = dict(senders)
        else:
            self.senders = {s.channel: s for s in senders}
        self._journal = journal
        self._extra_secrets = list(secrets)
        self.first_timeout = first_timeout
        self.retry_timeout = retry_timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._locks: dict[str, asyncio.Lock] = {}
        self._due: dict[str, float] = {}  # message name → monotonic time of next try
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = self._last_seq()

    # -- what is on disk ---------------------------------------------------

    @property
    def channels(self) -> list[str]:
        return list(self.senders)

    def pending(self, channel: str | None = None) -> list[OutboxMessage]:
        """Undelivered messages, oldest first."""
        messages = []
        for path in sorted(self.directory.glob("[0-9]*.json")):
            message = self._read(path)
            if message is not None and (channel is None or message.channel == channel):
                messages.append(message)
        return messages

    def sent(self) -> list[OutboxMessage]:
        return [m for p in sorted((self.directory / "sent").glob("*.json")) if (m := self._read(p)) is not None]

    def failed(self) -> list[OutboxMessage]:
        return [m for p in sorted((self.directory / "failed").glob("*.json")) if (m := self._read(p)) is not None]

    def state(self) -> dict:
        path = self.directory / STATE_FILE
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    # -- the procedure-facing call -----------------------------------------

    async def send_or_queue(self, channel: str, event: str, payload: dict) -> str:
        """Persist the message, try it once (briefly), and return its status.

        Never raises because of the remote service: a failure leaves the message
        queued for :meth:`drain`. Returns ``"sent"``, ``"queued"`` or ``"failed"``.
        """
        self._bind_loop()
        message = self._persist_new(channel, event, payload)
        if channel not in self.senders:
            self._record(message, "queued", f"no sender configured for {channel}")
            return "queued"
        head = self.pending(channel)[0]
        lock = self._lock(channel)
        if head.seq != message.seq or lock.locked():
            self._record(message, "queued", "waiting for an earlier message on this channel")
            self._wake_drain()
            return "queued"
        status = await self._attempt(message, self.first_timeout)
        self._wake_drain()
        return status

    # -- the background loop -----------------------------------------------

    async def drain(self, *, until_empty: bool = False) -> None:
        """Retry pending messages with exponential backoff, forever or until empty.

        The UI and CLI run this as a background task; ``until_empty`` suits the
        end of a headless run (bound it with ``asyncio.wait_for``).
        """
        self._bind_loop()
        while True:
            now = time.monotonic()
            due: list[OutboxMessage] = []
            wait: float | None = None
            heads = self._heads()
            for message in heads:
                if self._lock(message.channel).locked():
                    wait = min(wait or self.base_delay, self.base_delay)
                    continue
                at = self._due.get(message.name, 0.0)
                if at <= now:
                    due.append(message)
                else:
                    wait = at - now if wait is None else min(wait, at - now)
            if due:
                await asyncio.gather(*(self._attempt(m, self.retry_timeout, when_due=True) for m in due))
                continue
            if until_empty and not heads:
                return
            event = self._wake_event()
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), timeout=wait)
            except TimeoutError:
                pass

    # -- internals ---------------------------------------------------------

    def _heads(self) -> list[OutboxMessage]:
        heads: dict[str, OutboxMessage] = {}
        for message in self.pending():
            if message.channel in self.senders and message.channel not in heads:
                heads[message.channel] = message
        return list(heads.values())

    async def _attempt(self, message: OutboxMessage, timeout: float, *, when_due: bool = False) -> str:
        sender = self.senders[message.channel]
        async with self._lock(message.channel):
            path = self.directory / message.name
            # Another caller may have tried it while we waited for the lock.
            current = self._read(path) if path.exists() else None
            if current is None:
                return "sent"
            if when_due and self._due.get(message.name, 0.0) > time.monotonic():
                return "queued"
            message = current
            message.attempts += 1
            try:
                updates = await sender.deliver(message.payload, self.state(), timeout)
            except DeliveryError as exc:
                return self._failed_attempt(message, str(exc), exc.retryable)
            except Exception as exc:  # never into the procedure: a bug here must not stop a rollback
                log.exception("notification sender crashed")
                return self._failed_attempt(message, f"{type(exc).__name__}: {exc}", True)
            if updates:
                # Before the ack: a crash in between re-sends, and the sender
                # turns a repeated create into an update of the known incident.
                self._save_state({**self.state(), **updates})
            self._write(self.directory / "sent" / message.name, message)
            path.unlink()
            _fsync_dir(self.directory)
            self._due.pop(message.name, None)
            self._record(message, "sent", None)
            return "sent"

    def _failed_attempt(self, message: OutboxMessage, error: str, retryable: bool) -> str:
        error = self._redact(error)
        message.last_error = error
        if retryable:
            self._write(self.directory / message.name, message)
            self._due[message.name] = time.monotonic() + backoff_delay(
                message.attempts, self.base_delay, self.max_delay
            )
            self._record(message, "queued", error)
            return "queued"
        self._write(self.directory / "failed" / message.name, message)
        (self.directory / message.name).unlink()
        _fsync_dir(self.directory)
        self._record(message, "failed", error)
        return "failed"

    def _persist_new(self, channel: str, event: str, payload: dict) -> OutboxMessage:
        self._seq += 1
        message = OutboxMessage(seq=self._seq, channel=channel, event=event, payload=payload, created_at=iso(utc_now()))
        self._write(self.directory / message.name, message)
        return message

    def _write(self, path: Path, message: OutboxMessage) -> None:
        text = json.dumps(asdict(message), ensure_ascii=False, indent=1, sort_keys=True)
        write_atomically(path, self._redact(text).encode("utf-8"))

    def _save_state(self, state: dict) -> None:
        write_atomically(self.directory / STATE_FILE, json.dumps(state, sort_keys=True).encode("utf-8"))

    @staticmethod
    def _read(path: Path) -> OutboxMessage | None:
        try:
            return OutboxMessage(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            log.warning("unreadable outbox file %s", path.name)
            return None

    def _last_seq(self) -> int:
        seqs = [0]
        for sub in ("", "sent", "failed"):
            for path in (self.directory / sub).glob("[0-9]*.json"):
                try:
                    seqs.append(int(path.name.split("-", 1)[0]))
                except ValueError:
                    pass
        return max(seqs)

    def _secrets(self) -> list[Secret]:
        found = list(self._extra_secrets)
        for sender in self.senders.values():
            found.extend(sender.secrets())
        return found

    def _redact(self, text: str) -> str:
        return redact_text(text, self._secrets())

    def _record(self, message: OutboxMessage, status: str, error: str | None) -> None:
        if self._journal is None:
            return
        try:
            self._journal(
                "notification",
                channel=message.channel,
                event=message.event,
                status=status,
                attempts=message.attempts,
                error=self._redact(error) if error else None,
            )
        except Exception:  # a journal problem is reported elsewhere; the outbox keeps going
            log.exception("could not journal a notification outcome")

    def _bind_loop(self) -> None:
        # A headless run may call asyncio.run() more than once; asyncio locks and
        # events belong to one loop, so start fresh ones on a new loop.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._locks = {}
            self._wake = None

    def _lock(self, channel: str) -> asyncio.Lock:
        return self._locks.setdefault(channel, asyncio.Lock())

    def _wake_event(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    def _wake_drain(self) -> None:
        self._wake_event().set()
