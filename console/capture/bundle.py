"""The compose bundle ``<TAG>-compose.tar.gz``: compose file, env files, runbook, migrations.

Members carry relative paths only (no absolute path, no ``..``, no links), owner
0/0 and one fixed mtime, so the host's ``tar -x`` into the project directory
cannot be steered elsewhere. Env files are archived with mode 0600 and never
read for anything but their bytes: their contents are secrets.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from console.capture.errors import CaptureError
from console.config import Capture
from console.release.tarsafety import check_members


@dataclass(frozen=True)
class BundleEntry:
    name: str  # relative POSIX path inside the bundle
    source: Path | None  # file on disk, or None when ``data`` is given
    data: bytes | None = None
    secret: bool = False  # env files: mode 0600, content never shown


def _relative(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name in (".", ""):
        raise CaptureError(f"refusing bundle path {name!r}: it must be relative and inside source_dir")
    return path.as_posix()


def _regular_file(source_dir: Path, name: str) -> Path:
    path = source_dir / name
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise CaptureError(f"{name} is listed in [capture] but does not exist in {source_dir}") from None
    if stat.S_ISLNK(info.st_mode):
        raise CaptureError(f"{name} is a symbolic link; the bundle holds regular files only")
    if not stat.S_ISREG(info.st_mode):
        raise CaptureError(f"{name} is not a regular file")
    # A link further up (source_dir/link/file) would also leave the tree.
    if not path.resolve().is_relative_to(source_dir.resolve()):
        raise CaptureError(f"{name} resolves outside {source_dir}")
    return path


def bundle_entries(capture: Capture, pinned_compose: bytes | dict[str, bytes]) -> list[BundleEntry]:
    """What goes into the bundle, in a stable order, each path checked. ``pinned_compose``: the
    pinned compose files by name (or the one file's bytes, named ``capture.compose_file``)."""
    source_dir = capture.source_dir
    if isinstance(pinned_compose, bytes):
        pinned_compose = {capture.compose_file: pinned_compose}
    entries = [BundleEntry(_relative(name), None, data=data) for name, data in pinned_compose.items()]
    for name in capture.env_files:
        entries.append(BundleEntry(_relative(name), _regular_file(source_dir, name), secret=True))
    for name in capture.extra_files:
        entries.append(BundleEntry(_relative(name), _regular_file(source_dir, name)))
    for directory in capture.migration_dirs:
        root = source_dir / _relative(directory)
        if root.is_symlink() or not root.is_dir():
            raise CaptureError(f"migration directory {directory} is missing or not a directory in {source_dir}")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for filename in sorted(filenames):
                rel = (Path(dirpath) / filename).relative_to(source_dir).as_posix()
                entries.append(BundleEntry(_relative(rel), _regular_file(source_dir, rel)))
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise CaptureError(f"{entry.name} is listed twice in [capture]")
        seen.add(entry.name)
    return entries


def _directories(names: list[str]) -> list[str]:
    dirs: set[str] = set()
    for name in names:
        for parent in PurePosixPath(name).parents:
            if parent.as_posix() != ".":
                dirs.add(parent.as_posix())
    return sorted(dirs)


def write_bundle(entries: list[BundleEntry], path: Path, mtime: int) -> Path:
    """Write the tar.gz (mode 0600, atomically) and check it back with tarsafety."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for directory in _directories([e.name for e in entries]):
                info = _info(directory, mtime, 0o755)
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            for entry in entries:
                if entry.data is not None:
                    data = entry.data
                elif entry.source is not None:
                    data = entry.source.read_bytes()
                else:
                    raise ValueError(f"bundle entry {entry.name} has neither data nor a source file")
                info = _info(entry.name, mtime, 0o600 if entry.secret else 0o644)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            tar.close()
            gz.close()
            raw.flush()
            os.fsync(raw.fileno())
        problems = check_members(tmp)
        if problems:
            raise CaptureError(f"the bundle failed its own safety check: {'; '.join(problems)}")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _info(name: str, mtime: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
