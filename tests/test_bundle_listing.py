"""The bundle check reads the whole ``tar -tv`` listing, however long, not a captured tail."""

from __future__ import annotations

import dataclasses
import io
import tarfile
from pathlib import Path

import pytest

from console.config import load_config
from console.engine.artifact_checks import verify_bundle_members
from console.engine.context import StepContext
from console.transport.local import LocalTransport
from console.transport.streams import CAPTURE_LIMIT

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
FILLER = 9000  # members of ~130-character names: a listing well past the 1 MiB captured


def write_big_bundle(path: Path, first: tarfile.TarInfo | None, compose: str = "docker-compose.yml") -> Path:
    """A bundle whose (optional) bad member is listed first, then thousands of harmless files."""
    with tarfile.open(path, "w:gz") as tar:
        if first is not None:
            tar.addfile(first, io.BytesIO(b"x" * first.size) if first.isfile() else None)
        for i in range(FILLER):
            info = tarfile.TarInfo(f"config/{'long-directory-name-' * 5}/file-{i:06d}.conf")
            tar.addfile(info, io.BytesIO(b""))
        body = b"services: {}\n"
        info = tarfile.TarInfo(compose)
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return path


def bad_members() -> dict[str, tarfile.TarInfo]:
    dotdot = tarfile.TarInfo("../../etc/cron.d/evil")
    dotdot.size = 1
    absolute = tarfile.TarInfo("/etc/passwd")
    absolute.size = 1
    symlink = tarfile.TarInfo("data")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/var/lib/postgresql"
    hardlink = tarfile.TarInfo("shadow")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, "../etc/shadow"
    device = tarfile.TarInfo("disk")
    device.type, device.devmajor, device.devminor = tarfile.BLKTYPE, 8, 0
    return {"dotdot": dotdot, "absolute": absolute, "symlink": symlink, "hardlink": hardlink, "device": device}


@pytest.fixture
def ctx(tmp_path):
    base = load_config(EXAMPLE)
    target = dataclasses.replace(base.target, artifacts_dir=str(tmp_path), command_timeout=60)
    return StepContext(dataclasses.replace(base, target=target), LocalTransport(), None)


@pytest.mark.parametrize("kind", sorted(bad_members()))
async def test_a_bad_member_listed_first_in_a_big_bundle_is_refused(tmp_path, ctx, kind):
    write_big_bundle(tmp_path / "v9-compose.tar.gz", bad_members()[kind])
    shown: list[str] = []
    ctx.emit_output = lambda stream, lines: shown.extend(lines if stream == "stdout" else [])
    result = await verify_bundle_members(ctx, "v9")
    assert not result.ok and "unsafe bundle refused" in result.message, result.message
    # The listing is longer than what a captured run keeps: the bad line would have been dropped.
    assert FILLER * 124 > CAPTURE_LIMIT
    assert len(shown) <= 20  # the step pane gets a sample, not thousands of lines


async def test_a_big_clean_bundle_passes_with_every_member_counted(tmp_path, ctx):
    write_big_bundle(tmp_path / "v9-compose.tar.gz", None)
    result = await verify_bundle_members(ctx, "v9")
    assert result.ok, result.message
    assert result.message.startswith(f"{FILLER + 1} members")


async def test_a_bundle_without_the_compose_file_is_refused(tmp_path, ctx):
    write_big_bundle(tmp_path / "v9-compose.tar.gz", None, compose="other.yml")
    result = await verify_bundle_members(ctx, "v9")
    assert not result.ok and "holds no docker-compose.yml" in result.message
