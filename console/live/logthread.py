"""Following logs on a thread of its own: its own event loop, its own SSH link.

A crash-looping service floods ``docker compose logs -f``. Read on the UI's event loop,
every chunk is decrypted, handed on and queued there, and because asyncssh returns
already-buffered data without suspending, a key pressed meanwhile waits behind the whole
backlog. Here :func:`~console.live.logfollow.follow_logs` runs on a daemon thread with a
loop and a transport of its own (``make_transport`` is called in that thread, so the link
belongs to its loop), and each batch goes to ``deliver`` in that thread: the log pane's
``ingest_batch``, which only queues it under a lock. The thread's socket reads release
the GIL between chunks, so the UI's thread gets it without waiting out CPython's switch
interval. The UI takes the queue at its own bounded rate (the pane's drain timer), so the
UI never reads the stream and memory stays bounded by the pane's queue. Restart notices
are also handed to ``on_restart`` on the loop that started the follower (the UI's), where
it may touch widgets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from console.live.logfollow import FollowRestart, LogBatch, follow_logs
from console.transport.base import Transport


class LogFollowThread:
    """``follow_logs(make_transport(), argv, chunks=True)`` on a daemon thread, until stopped."""

    def __init__(
        self,
        make_transport: Callable[[], Transport],
        argv: list[str],
        deliver: Callable[[LogBatch], object],
        *,
        on_restart: Callable[[FollowRestart], object] | None = None,
        name: str = "log-follow",
    ) -> None:
        self._make_transport = make_transport
        self.argv = argv
        self._deliver = deliver
        self._on_restart = on_restart
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self._caller: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None  # what ended the thread, other than stop()

    def start(self) -> None:
        """Start following; call from a running event loop (restart notices come back to it)."""
        self._caller = asyncio.get_running_loop()
        self._thread.start()

    def stop(self) -> None:
        """Cancel the follower (it kills the command on the host and closes its link); never blocks."""
        with self._lock:
            self._stopping = True
            if self._loop is not None and self._task is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._task.cancel)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    async def wait(self) -> None:
        """Until the thread ends; re-raises what ended it (a bug: link failures are survived)."""
        while self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 0.5)
        if self.error is not None:
            raise self.error

    async def follow(self) -> None:
        """Start, then follow for as long as the awaiting task runs (cancel it to stop)."""
        self.start()
        try:
            await self.wait()
        finally:
            self.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Block until the thread ends (tests, benchmarks); True when it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            asyncio.run(self._follow())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to wait() in the starting thread
            self.error = exc

    async def _follow(self) -> None:
        with self._lock:
            if self._stopping:
                return
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
        transport = self._make_transport()
        try:
            async for batch in follow_logs(transport, self.argv, chunks=True):
                self._deliver(batch)
                if isinstance(batch, FollowRestart) and self._on_restart is not None and self._caller is not None:
                    try:
                        self._caller.call_soon_threadsafe(self._on_restart, batch)
                    except RuntimeError:  # the starting loop is closed: nobody to tell
                        pass
        finally:
            try:
                await transport.close()
            except Exception:  # noqa: BLE001 - a dead link's close must not hide why the follow ended
                pass


def has_own_link(transport: Transport) -> bool:
    """True for an SSH link: its logs are worth a thread and a link of their own.

    A local or stand-in transport (tests, the console's own side) is followed on the
    caller's loop: it cannot be re-made in another thread, and it never floods."""
    from console.transport.ssh import SSHTransport  # already imported when one exists

    return isinstance(transport, SSHTransport)
