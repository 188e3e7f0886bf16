"""Extracting release tarballs on the console's machine without letting them escape.

PEP 706's ``data`` filter (Python >= 3.11.4) already refuses absolute paths,
``..``, links pointing outside and device files. We check every member *first*
anyway, so a bad archive is refused whole with every reason listed, instead of
failing halfway through with some files already written.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path


class UnsafeArchive(ValueError):
    """The archive holds members that would land outside the destination."""

    def __init__(self, archive: str, problems: list[str]) -> None:
        self.archive = archive
        self.problems = problems
        super().__init__(
            f"{archive}: unsafe archive refused: "
            + "; ".join(problems[:10])
            + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else "")
        )


def _escapes(path: str) -> bool:
    """True when ``path`` (relative, POSIX) climbs above the archive root."""
    normal = posixpath.normpath(path)
    return normal == ".." or normal.startswith("../")


def member_problems(member: tarfile.TarInfo) -> list[str]:
    """Why one member cannot be extracted safely (empty when it can)."""
    name = member.name
    problems = []
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\\" in name:
        problems.append(f"{name}: absolute path")
    elif ".." in name.split("/") or _escapes(name):
        problems.append(f"{name}: path leaves the destination ('..')")
    if member.issym():
        target = member.linkname
        resolved = posixpath.join(posixpath.dirname(name), target)
        if target.startswith("/") or _escapes(resolved):
            problems.append(f"{name}: symlink to {target} points outside the destination")
    elif member.islnk():
        target = member.linkname
        if target.startswith("/") or ".." in target.split("/") or _escapes(target):
            problems.append(f"{name}: hard link to {target} points outside the destination")
    elif not (member.isfile() or member.isdir()):
        problems.append(f"{name}: special file (device, fifo) refused")
    return problems


def check_members(archive: str | os.PathLike) -> list[str]:
    """Every reason to refuse ``archive``; an empty list means all members stay inside."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, EOFError, OSError) as exc:
        return [f"cannot read archive: {exc}"]
    problems: list[str] = []
    for member in members:
        problems.extend(member_problems(member))
    return problems


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> list[str]:
    """Extract ``archive`` into ``dest`` after checking every member; returns the member names.

    Raises :class:`UnsafeArchive` (and writes nothing) when any member is unsafe.
    """
    if not hasattr(tarfile, "data_filter"):
        raise RuntimeError("safe extraction needs Python >= 3.11.4 (tarfile.data_filter, PEP 706)")
    problems = check_members(archive)
    if problems:
        raise UnsafeArchive(str(archive), problems)
    dest_path = Path(dest)
    dest_path.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        names = tar.getnames()
        try:
            tar.extractall(dest_path, filter="data")
        except tarfile.FilterError as exc:
            # The pre-check should have caught it; the filter is the second wall.
            raise UnsafeArchive(str(archive), [str(exc)]) from None
    return names
