"""tarsafety refuses archives that would write outside the destination (no sandbox)."""

from __future__ import annotations

import io
import tarfile

import pytest

from console.release.tarsafety import UnsafeArchive, check_members, safe_extract


def _archive(path, members):
    """members: (name, kind, payload_or_linkname)"""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = extra.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = extra
                tar.addfile(info)
            elif kind == "hard":
                info.type = tarfile.LNKTYPE
                info.linkname = extra
                tar.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
    return path


def test_safe_archive_extracts(tmp_path):
    archive = _archive(
        tmp_path / "ok.tar.gz",
        [
            ("docker-compose.yml", "file", "services: {}\n"),
            ("backend", "dir", None),
            ("backend/.env", "file", "A=1\n"),
            ("backend/link", "sym", "../docker-compose.yml"),
        ],
    )
    assert check_members(archive) == []
    dest = tmp_path / "out"
    names = safe_extract(archive, dest)
    assert "backend/.env" in names
    assert (dest / "backend" / ".env").read_text() == "A=1\n"
    assert (dest / "backend" / "link").is_symlink()


@pytest.mark.parametrize(
    "members, reason",
    [
        ([("../x", "file", "evil")], "leaves the destination"),
        ([("a/../../x", "file", "evil")], "leaves the destination"),
        ([("/etc/cron.d/evil", "file", "evil")], "absolute path"),
        ([("link", "sym", "/etc/passwd")], "points outside"),
        ([("a/link", "sym", "../../outside")], "points outside"),
        ([("hard", "hard", "../../etc/passwd")], "points outside"),
        ([("hard", "hard", "/etc/passwd")], "points outside"),
        ([("pipe", "fifo", None)], "special file"),
    ],
)
def test_malicious_archive_is_refused_and_nothing_written(tmp_path, members, reason):
    archive = _archive(tmp_path / "bad.tar.gz", [("good.txt", "file", "fine")] + members)
    problems = check_members(archive)
    assert problems and any(reason in p for p in problems), problems
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchive) as exc:
        safe_extract(archive, dest)
    assert reason in str(exc.value)
    # Refused whole: not even the harmless member was written.
    assert not (dest / "good.txt").exists()
    assert not (tmp_path / "x").exists()


def test_unreadable_archive_is_a_problem_not_a_crash(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tarball at all")
    problems = check_members(bogus)
    assert problems and "cannot read archive" in problems[0]
    with pytest.raises(UnsafeArchive):
        safe_extract(bogus, tmp_path / "out")
