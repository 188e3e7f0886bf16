"""Artifact upload over the sandbox's sshd: resumable, proven on the host, listed once.

Uses a scratch directory under /tmp on the host, so /opt/artifacts is untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid

import pytest

from console.capture.errors import CaptureError
from console.capture.upload import upload_artifacts
from console.config import load_config
from console.transport.ssh import SSHTransport

pytestmark = pytest.mark.sandbox


async def _with_transport(config, remote_dir, fn):
    transport = SSHTransport(config.target)
    await transport.connect()
    try:
        return await fn(transport)
    finally:
        await transport.run(["rm", "-rf", "--", remote_dir], timeout=30)
        await transport.close()


@pytest.fixture
def remote_dir():
    return f"/tmp/capture-upload-{uuid.uuid4().hex[:8]}"


def _file(tmp_path, name, size):
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_resumes_a_partial_file_and_lists_each_file_once(sandbox_config_path, tmp_path, remote_dir):
    config = load_config(sandbox_config_path)
    big, big_sha = _file(tmp_path, "t-images.tar", 3 * 1024 * 1024 + 17)
    small, small_sha = _file(tmp_path, "t-compose.tar.gz", 1000)
    files, hashes = {big.name: big, small.name: small}, {big.name: big_sha, small.name: small_sha}
    progress = []

    async def scenario(transport):
        await transport.run(["mkdir", "-p", remote_dir], timeout=30)
        # An interrupted earlier upload left the first MiB (a true prefix) behind.
        await transport.sftp_put(_prefix(tmp_path, big, 1024 * 1024), f"{remote_dir}/{big.name}", resume=False)
        await upload_artifacts(
            transport, remote_dir, files, hashes, lambda name, done, total: progress.append((name, done, total))
        )
        await upload_artifacts(transport, remote_dir, files, hashes)  # again: no second listing
        sums = (await transport.run(["cat", f"{remote_dir}/SHA256SUMS.txt"], capture=True)).stdout
        modes = (await transport.run(["stat", "-c", "%a %n", f"{remote_dir}/{big.name}"], capture=True)).stdout
        return sums, modes

    sums, modes = asyncio.run(_with_transport(config, remote_dir, scenario))
    assert sums == f"{big_sha}  {big.name}\n{small_sha}  {small.name}\n"
    assert modes.startswith("600 ")
    first_big = next(p for p in progress if p[0] == big.name)
    assert first_big[1] == 1024 * 1024  # resumed where the partial file ended
    assert progress[-1][1] == progress[-1][2]


def test_a_stale_prefix_is_detected_and_sent_again(sandbox_config_path, tmp_path, remote_dir):
    config = load_config(sandbox_config_path)
    big, big_sha = _file(tmp_path, "t-db.dump", 2 * 1024 * 1024)

    async def scenario(transport):
        await transport.run(["mkdir", "-p", remote_dir], timeout=30)
        other, _ = _file(tmp_path, "other", 512 * 1024)  # same name, different bytes (an older dump)
        await transport.sftp_put(other, f"{remote_dir}/{big.name}", resume=False)
        await upload_artifacts(transport, remote_dir, {big.name: big}, {big.name: big_sha})
        return (await transport.run(["sha256sum", f"{remote_dir}/{big.name}"], capture=True)).stdout

    assert asyncio.run(_with_transport(config, remote_dir, scenario)).startswith(big_sha)


def test_a_file_listed_with_another_hash_is_never_overwritten(sandbox_config_path, tmp_path, remote_dir):
    config = load_config(sandbox_config_path)
    new, new_sha = _file(tmp_path, "t-compose.tar.gz", 100)

    async def scenario(transport):
        await transport.run(["mkdir", "-p", remote_dir], timeout=30)
        await transport.run(
            [
                "sh",
                "-c",
                f"printf old > {remote_dir}/{new.name}; "
                f"printf '%s  %s\\n' {'0' * 64} {new.name} > {remote_dir}/SHA256SUMS.txt",
            ]
        )
        with pytest.raises(CaptureError, match="refusing to overwrite"):
            await upload_artifacts(transport, remote_dir, {new.name: new}, {new.name: new_sha})
        return (await transport.run(["cat", f"{remote_dir}/{new.name}"], capture=True)).stdout

    assert asyncio.run(_with_transport(config, remote_dir, scenario)).strip() == "old"


def _prefix(tmp_path, path, size):
    part = tmp_path / (path.name + ".prefix")
    part.write_bytes(path.read_bytes()[:size])
    return part
