"""Put the release artifacts in the host's artifacts directory and list them in its SHA256SUMS.txt.

Uploads resume (a dropped link costs only the missing bytes), so each file's
sha256 is recomputed *on the host* afterwards: a resumed upload whose prefix
came from some other file is caught and sent again whole. Only then is the
host's SHA256SUMS.txt appended, once per file.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path

from console.capture.checksums import lines_to_append
from console.capture.errors import CaptureError
from console.commands import artifacts as art
from console.commands.base import argv
from console.failures import TransportError
from console.validate import require_remote_path

# (file name, bytes done, bytes total)
UploadProgress = Callable[[str, int, int], None]


def chmod_private(paths: list[str]) -> list[str]:
    return argv("chmod", "0600", "--", [require_remote_path(p, "file") for p in paths])


def append_sums(artifacts_dir: str) -> list[str]:
    """Append stdin to SHA256SUMS.txt (the lines come on stdin, never on argv)."""
    return argv("sh", "-c", 'cat >> "$1"', "sh", art.sha256sums_path(artifacts_dir))


def mkdir_artifacts(artifacts_dir: str) -> list[str]:
    """Create the artifacts directory (and any missing parent) 0700: it holds env files and dumps."""
    return argv(
        "sh", "-c", 'umask 077 && mkdir -p -- "$1"', "sh", require_remote_path(artifacts_dir, "artifacts directory")
    )


async def _run(transport, command: list[str], what: str, *, stdin: bytes | None = None, timeout: float = 120):
    try:
        result = await transport.run(command, timeout=timeout, capture=True, stdin=stdin)
    except TransportError as exc:
        raise CaptureError(f"{what}: {exc}") from None
    if result.exit_status != 0:
        raise CaptureError(f"{what} failed on the host (exit {result.exit_status}): {result.stderr.strip()}")
    return result


async def remote_sums(transport, artifacts_dir: str) -> str:
    """The host's SHA256SUMS.txt text ("" when there is none yet)."""
    path = art.sha256sums_path(artifacts_dir)
    command = argv("sh", "-c", 'if [ -e "$1" ]; then cat -- "$1"; fi', "sh", path)
    return (await _run(transport, command, f"reading {path}")).stdout


async def remote_hashes(transport, paths: list[str]) -> dict[str, str]:
    result = await _run(transport, art.sha256sum(paths), "checksumming the uploaded artifacts", timeout=900)
    return {name: hashes[-1] for name, hashes in art.parse_sha256sums(result.stdout).items()}


async def upload_artifacts(
    transport,
    artifacts_dir: str,
    files: dict[str, Path],
    hashes: dict[str, str],
    on_progress: UploadProgress | None = None,
) -> dict[str, str]:
    """Upload ``files`` (name -> local path) into ``artifacts_dir``, prove their sha256 on the
    host, then append them to the host's SHA256SUMS.txt. Returns name -> remote path."""
    existing = await remote_sums(transport, artifacts_dir)
    # Refuse before touching anything: a listed artifact is never overwritten.
    addition = lines_to_append(existing, hashes, f"{art.sha256sums_path(artifacts_dir)} on the host")
    await _run(transport, mkdir_artifacts(artifacts_dir), f"creating {artifacts_dir}")
    remote = {name: posixpath.join(artifacts_dir, name) for name in files}
    for name, local in files.items():
        await _put(transport, local, remote[name], name, on_progress, resume=True)
    await _run(transport, chmod_private(list(remote.values())), "restricting the artifacts to mode 0600")
    computed = await remote_hashes(transport, list(remote.values()))
    for name, local in files.items():
        if computed.get(name) != hashes[name]:
            # A resumed upload trusted a stale prefix: send the whole file once more.
            await _put(transport, local, remote[name], name, on_progress, resume=False)
    computed = await remote_hashes(transport, list(remote.values()))
    wrong = [
        f"{name}: host has {computed.get(name)}, expected {hashes[name]}"
        for name in files
        if computed.get(name) != hashes[name]
    ]
    if wrong:
        raise CaptureError("uploaded artifacts do not match their sha256 on the host: " + "; ".join(wrong))
    if addition:
        if existing and not existing.endswith("\n"):
            addition = "\n" + addition
        await _run(
            transport, append_sums(artifacts_dir), "appending to SHA256SUMS.txt on the host", stdin=addition.encode()
        )
    return remote


async def _put(
    transport, local: Path, remote: str, name: str, on_progress: UploadProgress | None, *, resume: bool
) -> None:
    progress = (lambda done, total: on_progress(name, done, total)) if on_progress else None
    try:
        await transport.sftp_put(local, remote, progress=progress, resume=resume)
    except TransportError as exc:
        raise CaptureError(f"upload of {name} failed: {exc}") from None
