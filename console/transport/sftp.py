"""Resumable file transfer over the incident's SSH connection (release artifacts).

Resuming trusts the bytes already transferred and only compares sizes; the
artifacts' SHA256SUMS.txt is what proves their content, checked afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncssh

from console.failures import ConnectionLost, TransportError

BLOCK = 1024 * 1024
PRIVATE_MODE = 0o600
PRIVATE = asyncssh.SFTPAttrs(permissions=PRIVATE_MODE)

# Called as (bytes_done, bytes_total) after every block.
ProgressCallback = Callable[[int, int], None]


class TransferFailed(TransportError):
    """The file could not be transferred whole (missing path, no permission, size mismatch)."""


async def put_file(
    conn: asyncssh.SSHClientConnection,
    local: Path,
    remote: str,
    *,
    progress: ProgressCallback | None = None,
    resume: bool = True,
) -> int:
    total = local.stat().st_size
    with _transfer_errors(f"upload of {local.name} to {remote}", f"upload of {local.name}"):
        async with conn.start_sftp_client() as client:
            done = await _remote_size(client, remote) if resume else 0
            if done is None or done > total:
                done = 0  # nothing there, or not a prefix of ours: start over
            # Created 0600 (and a resumed file set 0600 before any byte is added): an upload that
            # fails half-way must not leave env files or a database dump world-readable.
            async with client.open(remote, "r+b" if done else "wb", PRIVATE) as target:
                await target.chmod(PRIVATE_MODE)
                with local.open("rb") as source:
                    source.seek(done)
                    if progress:
                        progress(done, total)
                    while block := source.read(BLOCK):
                        await target.write(block, done)
                        done += len(block)
                        if progress:
                            progress(done, total)
            final = await _remote_size(client, remote)
    if final != total:
        raise TransferFailed(f"{remote} has {final} bytes after upload, expected {total}")
    return total


async def get_file(
    conn: asyncssh.SSHClientConnection,
    remote: str,
    local: Path,
    *,
    progress: ProgressCallback | None = None,
    resume: bool = True,
) -> int:
    with _transfer_errors(f"download of {remote}", f"download of {remote}"):
        async with conn.start_sftp_client() as client:
            total = await _remote_size(client, remote)
            if total is None:
                raise TransferFailed(f"{remote} does not exist on the host")
            done = local.stat().st_size if resume and local.exists() else 0
            if done > total:
                done = 0
            async with client.open(remote, "rb") as source:
                with local.open("r+b" if done else "wb") as target:
                    target.seek(done)
                    target.truncate()
                    if progress:
                        progress(done, total)
                    while block := await source.read(BLOCK, done):
                        target.write(block)  # type: ignore[call-overload]  # asyncssh types read() as str; "rb" gives bytes
                        done += len(block)
                        if progress:
                            progress(done, total)
    final = local.stat().st_size
    if final != total:
        raise TransferFailed(f"{local} has {final} bytes after download, expected {total}")
    return total


@contextmanager
def _transfer_errors(transfer: str, short: str) -> Iterator[None]:
    """What went wrong in a transfer, in our failures: the server refused it (TransferFailed,
    retrying will not help) or the link broke (ConnectionLost, running it again resumes)."""
    try:
        yield
    except asyncssh.SFTPError as exc:
        raise TransferFailed(f"{transfer} failed: {exc.reason}") from None
    except asyncssh.ChannelOpenError as exc:
        raise TransferFailed(f"{short}: the host offers no SFTP ({exc.reason})") from None
    except (asyncssh.Error, OSError) as exc:
        raise ConnectionLost(f"{transfer} interrupted: {exc}; run it again to resume") from None


async def _remote_size(client: asyncssh.SFTPClient, remote: str) -> int | None:
    try:
        return (await client.stat(remote)).size
    except asyncssh.SFTPNoSuchFile:
        return None
