"""The compose bundle, compose pinning and SHA256SUMS bookkeeping (no sandbox)."""

from __future__ import annotations

import hashlib
import stat
import tarfile
from pathlib import Path

import pytest

from console.capture.bundle import bundle_entries, write_bundle
from console.capture.checksums import append_local_sums, lines_to_append, sha256_file
from console.capture.compose_pin import pin_compose_images
from console.capture.errors import CaptureError
from console.config import Capture
from console.release.composefile import parse_compose
from console.release.tarsafety import check_members

COMPOSE = """\
# working tree
version: "2.4"
services:
  mr-dj-backend:
    build: ./backend
    image: mr-dj-backend:latest
    network_mode: host
    env_file: backend/.env
    volumes:
      - ./state:/opt/mr-dj/state
  mr-dj-frontend:
    build:
      context: ./frontend
      args:
        RELEASE: v3
    env_file: frontend/.env
  cache:
    image: redis:7
"""
REFS = {"mr-dj-backend": "127.0.0.1:5000/mr-dj-backend:v3", "mr-dj-frontend": "127.0.0.1:5000/mr-dj-frontend:v3"}
SERVICES = {"mr-dj-backend": "mr-dj-backend", "mr-dj-frontend": "mr-dj-frontend"}


def test_pin_replaces_images_and_drops_build():
    pinned = pin_compose_images(COMPOSE, REFS, SERVICES)
    services = parse_compose(pinned)["services"]
    assert services["mr-dj-backend"]["image"] == REFS["mr-dj-backend"]
    assert services["mr-dj-frontend"]["image"] == REFS["mr-dj-frontend"]  # inserted: it had none
    assert "build" not in services["mr-dj-backend"] and "build" not in services["mr-dj-frontend"]
    assert services["cache"]["image"] == "redis:7"  # not ours: untouched
    assert services["mr-dj-backend"]["volumes"] == ["./state:/opt/mr-dj/state"]
    assert pinned.startswith("# working tree\n")


def test_pin_refuses_a_compose_file_without_the_configured_service():
    with pytest.raises(CaptureError, match="no service"):
        pin_compose_images(COMPOSE, {"other": "r/other:v3"}, {"other": "other"})


def _source(tmp_path: Path) -> Capture:
    src = tmp_path / "src"
    (src / "backend").mkdir(parents=True)
    (src / "frontend").mkdir()
    (src / "migrations").mkdir()
    (src / "docs").mkdir()
    (src / "docker-compose.yml").write_text(COMPOSE)
    (src / "backend" / ".env").write_text("DATABASE_URL=postgresql://u:hunter2secret@db/x\n")
    (src / "frontend" / ".env").write_text("API_URL=http://127.0.0.1\n")
    (src / "migrations" / "001_init.up.sql").write_text("create table t();\n")
    (src / "docs" / "runbook.md").write_text("# runbook\n")
    return Capture(
        source_dir=src,
        env_files=["backend/.env", "frontend/.env"],
        extra_files=["docs/runbook.md"],
        migration_dirs=["migrations"],
        local_artifacts_dir=tmp_path / "artifacts",
    )


def test_bundle_holds_relative_files_only_with_private_env_files(tmp_path):
    capture = _source(tmp_path)
    pinned = pin_compose_images(COMPOSE, REFS, SERVICES).encode()
    out = write_bundle(bundle_entries(capture, pinned), tmp_path / "v3-compose.tar.gz", mtime=1_700_000_000)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert check_members(out) == []
    with tarfile.open(out) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(n for n, m in members.items() if m.isfile()) == {
            "docker-compose.yml",
            "backend/.env",
            "frontend/.env",
            "docs/runbook.md",
            "migrations/001_init.up.sql",
        }
        assert all(not m.name.startswith("/") and ".." not in m.name.split("/") for m in members.values())
        assert all(m.uid == 0 and m.gid == 0 and m.mtime == 1_700_000_000 for m in members.values())
        assert members["backend/.env"].mode == 0o600
        assert tar.extractfile("docker-compose.yml").read() == pinned


def test_bundle_is_reproducible(tmp_path):
    capture = _source(tmp_path)
    a = write_bundle(bundle_entries(capture, b"x: 1\n"), tmp_path / "a.tar.gz", mtime=1)
    b = write_bundle(bundle_entries(capture, b"x: 1\n"), tmp_path / "b.tar.gz", mtime=1)
    assert sha256_file(a) == sha256_file(b)


def test_bundle_refuses_symlinks_and_missing_files(tmp_path):
    capture = _source(tmp_path)
    (capture.source_dir / "frontend" / ".env").unlink()
    (capture.source_dir / "frontend" / ".env").symlink_to("/etc/passwd")
    with pytest.raises(CaptureError, match="symbolic link"):
        bundle_entries(capture, b"")
    (capture.source_dir / "frontend" / ".env").unlink()
    with pytest.raises(CaptureError, match="does not exist"):
        bundle_entries(capture, b"")


def test_sha256sums_append_once_and_refuse_conflicts(tmp_path):
    f = tmp_path / "v3-compose.tar.gz"
    f.write_bytes(b"bundle")
    digest = sha256_file(f)
    assert digest == hashlib.sha256(b"bundle").hexdigest()
    path = append_local_sums(tmp_path, {f.name: digest})
    append_local_sums(tmp_path, {f.name: digest})  # same hash again: no second line
    assert path.read_text() == f"{digest}  v3-compose.tar.gz\n"
    with pytest.raises(CaptureError, match="refusing to overwrite"):
        append_local_sums(tmp_path, {f.name: "0" * 64})
    assert path.read_text() == f"{digest}  v3-compose.tar.gz\n"


def test_lines_to_append_skips_listed_names():
    existing = f"{'a' * 64}  v1-compose.tar.gz\n"
    assert (
        lines_to_append(existing, {"v1-compose.tar.gz": "a" * 64, "v3-db.dump": "b" * 64}, "x")
        == f"{'b' * 64}  v3-db.dump\n"
    )
