"""The engine's lock on a real shell (LocalTransport): ours is released, someone else's never."""

from __future__ import annotations

import pytest

from console.engine.lock import LockError, LockHeld, RemoteLock
from console.transport.local import LocalTransport


async def test_a_lock_retaken_by_someone_else_is_not_released_by_the_first_holder(tmp_path):
    transport = LocalTransport()
    first = RemoteLock(transport, str(tmp_path), "alice", "inc-1")
    await first.acquire()
    forced = RemoteLock(transport, str(tmp_path), "bob", "inc-2")
    with pytest.raises(LockHeld):
        await forced.acquire()
    await forced.force_release()  # bob force-unlocks after talking to alice...
    await forced.acquire()  # ...and takes it for his incident
    with pytest.raises(LockError, match="another incident"):
        await first.release()  # alice's console finishing late must not remove bob's lock
    assert (await forced.read())["incident_id"] == "inc-2"
    await forced.release()
    assert await forced.read() == {}


async def test_a_lock_without_its_info_file_is_reported_and_can_be_forced(tmp_path):
    (tmp_path / ".incident-console.lock").mkdir()
    lock = RemoteLock(LocalTransport(), str(tmp_path), "alice", "inc-1")
    assert (await lock.read())["unreadable"] is True
    await lock.force_release()
    assert await lock.read() == {}
