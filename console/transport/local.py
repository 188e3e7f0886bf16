"""Running commands on this machine, with the same semantics as the SSH transport.

Used for the console's own side of the runbook (building and capturing
artifacts) and for tests. Each command leads its own session, so a timeout or
a cancel kills everything it started, not just the first process.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import time

from console.failures import CommandTimeout
from console.procfs import stat_fields
from console.secrets import SecretBytes, stdin_bytes
from console.transport.aborting import finish_despite_cancel
from console.transport.base import CommandResult, OutputCallback
from console.transport.streams import CHUNK_SIZE, CommandRun, LineSplitter

KILL_GRACE = 5.0
NOT_FOUND = 127  # what a shell reports, so both transports agree


class LocalTransport:
    """The :class:`~console.transport.base.Transport` for commands run locally."""

    description = "local"

    def __init__(
        self, *, cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None, kill_grace: float = KILL_GRACE
    ) -> None:
        self.cwd = cwd
        self.env = env
        self.kill_grace = kill_grace

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(
        self,
        argv: list[str],
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
        stdin: bytes | SecretBytes | None = None,
        capture: bool = False,
    ) -> CommandResult:
        run = CommandRun(argv, capture)
        result = run.result
        out = LineSplitter("stdout", on_output, run.stdout)
        err = LineSplitter("stderr", on_output, run.stderr)
        if not argv:
            raise ValueError("empty argv")
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError) as exc:
            err.feed(f"{argv[0]}: {exc.strerror}\n".encode())
            return result(NOT_FOUND if isinstance(exc, FileNotFoundError) else 126)
        pump = asyncio.ensure_future(_pump(proc, out, err, stdin))
        try:
            done, _ = await asyncio.wait({pump}, timeout=timeout)
        except asyncio.CancelledError:
            await finish_despite_cancel(self._abort(proc, pump))
            raise
        if not done:
            await finish_despite_cancel(self._abort(proc, pump))
            timed_out = CommandTimeout(
                f"{shlex.join(argv)} ran past its {timeout:g}s timeout and was killed with its process group"
            )
            timed_out.result = result(None)
            raise timed_out
        try:
            status = pump.result()
        except BaseException:
            await finish_despite_cancel(self._abort(proc, pump))
            raise
        return result(status)

    async def _abort(self, proc: asyncio.subprocess.Process, pump: asyncio.Future) -> None:
        """TERM the command's process group, then KILL whatever is still there after the grace."""
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.kill_grace
        while time.monotonic() < deadline and _group_alive(proc.pid):
            await asyncio.sleep(0.05)
        _signal_group(proc.pid, signal.SIGKILL)
        try:
            await asyncio.wait_for(asyncio.shield(pump), 2)
        except BaseException:
            pump.cancel()
        if proc.returncode is None:
            await proc.wait()


async def _pump(
    proc: asyncio.subprocess.Process, out: LineSplitter, err: LineSplitter, stdin: bytes | SecretBytes | None
) -> int:
    async def drain(reader: asyncio.StreamReader, splitter: LineSplitter) -> None:
        while chunk := await reader.read(CHUNK_SIZE):
            splitter.feed(chunk)
        splitter.finish()

    async def feed() -> None:
        assert proc.stdin is not None  # the process was started with stdin=PIPE when there is input
        try:
            proc.stdin.write(stdin_bytes(stdin))  # revealed inline: no local holds the values
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command did not want all of its input; its exit status says the rest
        finally:
            proc.stdin.close()

    assert proc.stdout is not None and proc.stderr is not None  # started with stdout/stderr=PIPE
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(drain(proc.stdout, out))
            group.create_task(drain(proc.stderr, err))
            if stdin:
                group.create_task(feed())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    code = await proc.wait()
    return 128 - code if code < 0 else code


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running, not merely waiting to be reaped.

    A killed command's grandchildren are orphans: PID 1 reaps them, and until it does they
    still answer ``killpg(pgid, 0)``. In a container PID 1 may reap them a second or more
    later, and the abort would wait that long for processes that are already dead.
    Without ``/proc`` every member counts as running.
    """
    try:
        entries = os.scandir("/proc")
    except OSError:
        return True
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            fields = stat_fields(entry.name)
            if fields is None:  # ended while we looked
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
