"""Uploaded artifacts are private from their first byte: a failed upload leaves nothing world-readable.

A real SFTP server (asyncssh's, on 127.0.0.1, serving this machine's files) receives the upload.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess

import asyncssh
import pytest

from console.capture.upload import mkdir_artifacts
from console.failures import ConnectionLost
from console.transport.sftp import BLOCK, TransferFailed, get_file, put_file


class _NoAuth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


@pytest.fixture
async def sftp_conn():
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[key], server_factory=_NoAuth, sftp_factory=True)
    port = server.sockets[0].getsockname()[1]
    conn = await asyncssh.connect(
        "127.0.0.1", port, known_hosts=None, username="deploy", client_keys=None, agent_path=None
    )
    yield conn
    conn.close()
    server.close()


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class _Interrupted(Exception):
    pass


async def test_a_failed_upload_leaves_a_0600_file(sftp_conn, tmp_path):
    local = tmp_path / "v1.env"
    local.write_bytes(b"DB_PASSWORD=hunter2\n" * (BLOCK // 10))  # two blocks
    remote = tmp_path / "remote-v1.env"

    def die_after_first_block(done: int, total: int) -> None:
        if done >= BLOCK:
            raise _Interrupted()

    old_umask = os.umask(0o022)  # the server's umask as on a typical host
    try:
        with pytest.raises(_Interrupted):
            await put_file(sftp_conn, local, str(remote), progress=die_after_first_block)
    finally:
        os.umask(old_umask)
    assert remote.exists() and _mode(remote) == 0o600


async def test_a_resumed_upload_over_a_world_readable_partial_makes_it_private(sftp_conn, tmp_path):
    local = tmp_path / "dump.sql.gz"
    local.write_bytes(b"x" * 1000)
    remote = tmp_path / "remote-dump.sql.gz"
    remote.write_bytes(b"x" * 10)
    remote.chmod(0o644)
    assert await put_file(sftp_conn, local, str(remote)) == 1000
    assert _mode(remote) == 0o600


async def test_a_refused_transfer_says_which_and_why(sftp_conn, tmp_path):
    local = tmp_path / "v1.env"
    local.write_bytes(b"x")
    remote = tmp_path / "no-such-dir" / "v1.env"
    with pytest.raises(TransferFailed, match=rf"^upload of v1.env to {remote} failed: "):
        await put_file(sftp_conn, local, str(remote))
    with pytest.raises(TransferFailed, match=rf"^{remote} does not exist on the host$"):
        await get_file(sftp_conn, str(remote), tmp_path / "copy")


async def test_a_transfer_cut_off_locally_can_be_run_again(sftp_conn, tmp_path):
    remote = tmp_path / "dump.sql.gz"
    remote.write_bytes(b"x" * 10)
    with pytest.raises(ConnectionLost, match=rf"^download of {remote} interrupted: .*; run it again to resume$"):
        await get_file(sftp_conn, str(remote), tmp_path / "no-such-dir" / "copy")


def test_the_artifacts_directory_is_created_0700(tmp_path):
    argv = mkdir_artifacts(str(tmp_path / "a" / "artifacts"))
    assert shlex.join(argv) == f"sh -c 'umask 077 && mkdir -p -- \"$1\"' sh {tmp_path}/a/artifacts"
    subprocess.run(argv, check=True)
    assert _mode(tmp_path / "a" / "artifacts") == 0o700 and _mode(tmp_path / "a") == 0o700
