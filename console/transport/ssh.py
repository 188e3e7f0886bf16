"""Running commands on the VPS over one SSH connection kept for the whole incident.

One connection, many channels: a rollback runs dozens of short commands and a
fresh handshake for each would cost seconds and hammer sshd's MaxStartups.
A dropped link is re-established before the *next* command, never by silently
re-running the one that was in flight: its outcome is UNKNOWN (exit status None).
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Callable
from pathlib import Path

import asyncssh

from console.config import Target
from console.failures import (
    AuthenticationFailed,
    CommandTimeout,
    ConnectionLost,
    ConnectTimeout,
    HostKeyRejected,
    OutcomeUnknown,
    TransportError,
)
from console.secrets import SecretBytes, stdin_bytes
from console.transport import sftp
from console.transport.aborting import finish_despite_cancel
from console.transport.base import CommandResult, OutputCallback
from console.transport.known_hosts import has_entry_for, known_hosts_path, load_trusted_keys, rejection_message
from console.transport.process_group import kill_group_argv, wrap_in_process_group
from console.transport.remote_command import MarkedStderr, read_until_exit
from console.transport.ssh_options import connect_options, read_server_key, resolve_destination
from console.transport.streams import CommandRun, LineSplitter

KILL_GRACE = 5.0  # seconds between TERM and KILL of a timed-out command's group
MARKER_WAIT = 2.0  # how long an abort waits for the PGID marker of a just-started command

RetryCallback = Callable[[int, float, TransportError], None]


class _Client(asyncssh.SSHClient):
    """Tells the transport when its connection goes away, so the next run reconnects."""

    def __init__(self, transport: SSHTransport) -> None:
        self._transport = transport
        self._conn: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport._forget(self._conn, exc)


class SSHTransport:
    """The :class:`~console.transport.base.Transport` for a :class:`Target` reached over SSH."""

    def __init__(
        self, target: Target, *, ssh_config_path: str | os.PathLike | None = None, kill_grace: float = KILL_GRACE
    ) -> None:
        self.target = target
        self.ssh_config_path = Path(ssh_config_path) if ssh_config_path else None
        self.known_hosts_file = known_hosts_path(target.known_hosts)
        self.kill_grace = kill_grace
        self.connections_opened = 0
        self.last_drop: str | None = None
        # the command a cancel could not prove stopped (no PGID marker, or the kill not sent)
        self.left_running: str | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self.host, self.port, self.user = resolve_destination(
            connect_options(target, self.ssh_config_path, None), target
        )
        self.description = f"{self.user}@{self.host}:{self.port}"

    # -- connection ---------------------------------------------------------------

    @property
    def connection(self) -> asyncssh.SSHClientConnection | None:
        """The live asyncssh connection, or None when not connected."""
        return self._conn

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def connect(self) -> None:
        async with self._lock:
            if self._conn is None:
                await self._open()

    async def reconnect(
        self,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 10.0,
        on_retry: RetryCallback | None = None,
    ) -> None:
        """Drop the current connection (if any) and connect again, backing off exponentially.

        A rejected host key or failed authentication is not retried: waiting will not fix it.
        ``on_retry(attempt, delay, error)`` is called before each wait, for the UI.
        """
        async with self._lock:
            await self._drop()
            await self._open_with_backoff(attempts, base_delay, max_delay, on_retry)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    def fingerprint(self) -> str | None:
        """SHA256 fingerprint of the connected server's host key."""
        key = self._conn.get_server_host_key() if self._conn else None
        return key.get_fingerprint("sha256") if key else None

    async def _ensure_connected(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is None:
                if self.connections_opened:
                    await self._open_with_backoff(3, 0.5, 4.0, None)
                else:
                    await self._open()
            assert self._conn is not None  # opening either set the connection or raised
            return self._conn

    async def _open_with_backoff(
        self, attempts: int, base_delay: float, max_delay: float, on_retry: RetryCallback | None
    ) -> None:
        for attempt in range(1, attempts + 1):
            try:
                await self._open()
                return
            except (HostKeyRejected, AuthenticationFailed):
                raise
            except TransportError as exc:
                if attempt == attempts:
                    raise
                delay = min(base_delay * 2 ** (attempt - 1), max_delay)
                if on_retry is not None:
                    on_retry(attempt, delay, exc)
                await asyncio.sleep(delay)

    async def _open(self) -> None:
        key_file = self.target.identity_file
        if key_file and not os.access(key_file, os.R_OK):
            raise AuthenticationFailed(f"identity file {key_file} cannot be read")
        options = self._connect_options()
        try:
            conn = await asyncssh.connect(**options)
        except asyncssh.HostKeyNotVerifiable:
            raise HostKeyRejected(await self._rejection()) from None
        except asyncssh.PermissionDenied as exc:
            raise AuthenticationFailed(
                f"{self.description}: authentication failed ({exc.reason}); "
                f"check {'ssh-agent' if self.target.agent or not self.target.identity_file else 'identity_file'} "
                "and user"
            ) from None
        except asyncssh.KeyImportError as exc:
            raise AuthenticationFailed(f"cannot load identity file: {exc}") from None
        except TimeoutError:
            raise ConnectTimeout(
                f"{self.description}: no SSH connection within {self.target.connect_timeout:g}s"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            raise ConnectionLost(f"{self.description}: cannot connect: {_why(exc)}") from None
        self._conn = conn
        self.connections_opened += 1
        self.last_drop = None

    def _connect_options(self) -> dict:
        try:
            trusted = load_trusted_keys(self.known_hosts_file)
        except (OSError, ValueError) as exc:
            raise HostKeyRejected(f"cannot use {self.known_hosts_file} to check host keys: {exc}") from None
        options = connect_options(self.target, self.ssh_config_path, trusted)
        return {**options, "client_factory": lambda: _Client(self)}

    async def _rejection(self) -> str:
        """Read the server's key (no authentication) so the refusal can show its fingerprint."""
        key = await read_server_key(self._connect_options(), self.target.connect_timeout)
        changed = has_entry_for(self.known_hosts_file, self.host, self.port)
        return rejection_message(self.host, self.port, self.known_hosts_file, key, changed)

    def _forget(self, conn: asyncssh.SSHClientConnection | None, exc: Exception | None) -> None:
        if conn is not None and conn is self._conn:
            self._conn = None
            self.last_drop = _why(exc) if exc else "closed"

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), 5)
            except (TimeoutError, asyncssh.Error, OSError):
                conn.abort()

    # -- commands -----------------------------------------------------------------

    async def run(
        self,
        argv: list[str],
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
        stdin: bytes | SecretBytes | None = None,
        capture: bool = False,
    ) -> CommandResult:
        """Run ``argv`` on the host in its own process group; see :class:`Transport`.

        A link that dies mid-command raises ConnectionLost whose ``result`` has
        exit_status None: the command may or may not have done its work.
        """
        conn = await self._ensure_connected()
        run = CommandRun(argv, capture)
        result = run.result
        out = LineSplitter("stdout", on_output, run.stdout)
        err = MarkedStderr(on_output, run.stderr)
        try:
            proc = await conn.create_process(wrap_in_process_group(argv), encoding=None)
        except (asyncssh.Error, OSError) as exc:
            raise _lost(f"{self.description}: could not start {shlex.join(argv)}: {_why(exc)}", result(None)) from None
        if stdin:
            proc.stdin.write(stdin_bytes(stdin))  # revealed inline: no local holds the values
        proc.stdin.write_eof()
        pump = asyncio.ensure_future(read_until_exit(proc, out, err))
        self.left_running = None
        try:
            done, _ = await asyncio.wait({pump}, timeout=timeout)
        except asyncio.CancelledError:
            killed = await finish_despite_cancel(self._abort(conn, proc, err, pump))
            if not killed:  # steps run together share the link: one cancelled and killed clears no other's
                self.left_running = "; ".join(filter(None, (self.left_running, shlex.join(argv))))
            raise
        if not done:
            killed = await finish_despite_cancel(self._abort(conn, proc, err, pump))
            how = (
                "was killed with its process group"
                if killed
                else "its process group was never reported (no PGID marker) or could not be signalled, "
                "so it MAY STILL RUN on the host: check with ps before retrying"
            )
            timed_out = CommandTimeout(
                f"{shlex.join(argv)} ran past its {timeout:g}s timeout on {self.description}; {how}"
            )
            timed_out.result = result(None)
            raise timed_out
        try:
            status = pump.result()
        except (asyncssh.Error, OSError) as exc:
            raise _lost(
                f"{self.description}: connection lost during {shlex.join(argv)}: {_why(exc)}; its outcome is UNKNOWN",
                result(None),
                OutcomeUnknown,
            ) from None
        except BaseException:
            await finish_despite_cancel(self._abort(conn, proc, err, pump))
            raise
        if status is None:
            raise _lost(
                f"{self.description}: {shlex.join(argv)} ended without an exit status "
                f"({self.last_drop or 'channel closed'}); its outcome is UNKNOWN",
                result(None),
                OutcomeUnknown,
            )
        return result(status)

    async def _abort(
        self,
        conn: asyncssh.SSHClientConnection,
        proc: asyncssh.SSHClientProcess,
        err: MarkedStderr,
        pump: asyncio.Future,
    ) -> bool:
        """Kill the command's whole remote process group, then close its channel.

        True when the command is known to be gone (it exited, or its group was signalled);
        False when its group was never reported or the kill could not be sent.
        """
        killed = proc.exit_status is not None
        try:
            if proc.exit_status is None:  # no exit reported: the command may still run
                try:
                    await asyncio.wait_for(err.marker_seen.wait(), MARKER_WAIT)
                except TimeoutError:
                    pass
                if err.pgid is not None and conn is self._conn:
                    done = await asyncio.wait_for(
                        conn.run(shlex.join(kill_group_argv(err.pgid, self.kill_grace)), check=False),
                        self.kill_grace + 5,
                    )
                    killed = done.exit_status == 0
        except (asyncssh.Error, OSError, TimeoutError):
            pass  # the link is gone: nothing more we can do from here
        finally:
            proc.close()
            try:
                await asyncio.wait_for(asyncio.shield(pump), 2)
            except BaseException:
                pump.cancel()
        return killed

    # -- files ----------------------------------------------------------------------

    async def sftp_put(
        self, local: str | os.PathLike, remote: str, progress: sftp.ProgressCallback | None = None, resume: bool = True
    ) -> int:
        """Upload ``local`` to ``remote``, continuing a shorter partial upload; returns its size."""
        conn = await self._ensure_connected()
        return await sftp.put_file(conn, Path(local), remote, progress=progress, resume=resume)

    async def sftp_get(
        self, remote: str, local: str | os.PathLike, progress: sftp.ProgressCallback | None = None, resume: bool = True
    ) -> int:
        """Download ``remote`` to ``local``, continuing a shorter partial download; returns its size."""
        conn = await self._ensure_connected()
        return await sftp.get_file(conn, remote, Path(local), progress=progress, resume=resume)


def _lost(message: str, result: CommandResult, kind: type[ConnectionLost] = ConnectionLost) -> ConnectionLost:
    """``kind`` is OutcomeUnknown once the command started: it may have done its work."""
    exc = kind(message)
    exc.result = result
    return exc


def _why(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_why(e) for e in exc.exceptions)
    if isinstance(exc, asyncssh.DisconnectError):
        return exc.reason or type(exc).__name__
    return str(exc) or type(exc).__name__
