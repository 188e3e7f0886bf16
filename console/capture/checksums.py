"""sha256 of artifacts and the ``SHA256SUMS.txt`` they are listed in (``sha256sum`` format).

Each name is listed once: appending a name that is already there with another
hash is refused, because a rollback would then have two truths to choose from.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from console.capture.errors import CaptureError
from console.commands.artifacts import SHA256SUMS, parse_sha256sums

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sums_line(name: str, sha256: str) -> str:
    if "\n" in name or "\\" in name or "/" in name:
        raise CaptureError(f"refusing artifact name {name!r} in {SHA256SUMS}")
    return f"{sha256}  {name}\n"


def lines_to_append(existing_text: str, hashes: dict[str, str], where: str) -> str:
    """The lines ``hashes`` adds to a SHA256SUMS text: names already listed with the same
    hash are skipped, a name listed with another hash raises :class:`CaptureError`."""
    listed = parse_sha256sums(existing_text)
    conflicts = [
        f"{name} is listed with sha256 {listed[name][0]}, the new file has {digest}"
        for name, digest in hashes.items()
        if name in listed and set(listed[name]) != {digest}
    ]
    if conflicts:
        raise CaptureError(
            f"{where} already lists different artifacts (an earlier capture of this tag?); "
            "refusing to overwrite: " + "; ".join(conflicts)
        )
    return "".join(sums_line(name, digest) for name, digest in hashes.items() if name not in listed)


def append_local_sums(directory: Path, hashes: dict[str, str]) -> Path:
    """Append ``hashes`` to ``directory/SHA256SUMS.txt`` (refusing conflicts)."""
    path = directory / SHA256SUMS
    existing = path.read_text("utf-8") if path.exists() else ""
    addition = lines_to_append(existing, hashes, str(path))
    if addition:
        if existing and not existing.endswith("\n"):
            addition = "\n" + addition
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(addition)
            handle.flush()
            os.fsync(handle.fileno())
    return path


def check_local_sums(directory: Path, hashes: dict[str, str]) -> None:
    """Raise now (before uploading anything) if appending ``hashes`` would be refused."""
    path = directory / SHA256SUMS
    if path.exists():
        lines_to_append(path.read_text("utf-8"), hashes, str(path))
