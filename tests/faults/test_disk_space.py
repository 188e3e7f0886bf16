"""Disk full during `docker load`: free space is checked first, before anything changes.

A real tiny tmpfs stands for dockerd's root dir (`stat` and `df` run for real on it); only
`docker info`, which names that dir, is answered by the test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import subprocess
from pathlib import Path

import pytest

from console.commands import diskspace
from console.config import load_config
from console.engine.context import StepContext
from console.engine.disk_space import check_space_for_images, space_needed
from console.engine.procedure import Procedure, Step
from console.engine.rollback import rollback_procedure
from console.engine.runner import StepEngine
from console.incident.journal import Journal
from console.release.release_log import Release, ReleaseLog
from console.transport.base import CommandResult
from console.transport.local import LocalTransport
from console.validate import UnsafeValue
from tests._engine_support import EXAMPLE, ScriptedDecider

pytestmark = pytest.mark.faults

DF = """Filesystem     1024-blocks   Used Available Capacity Mounted on
tmpfs                 8192      0      8192       0% /var/lib/docker
"""


def test_builders_and_parsers():
    assert shlex.join(diskspace.free_space("/var/lib/docker")) == "df -Pk -- /var/lib/docker"
    assert (
        shlex.join(diskspace.file_size("/opt/artifacts/v1-images.tar")) == "stat -c %s -- /opt/artifacts/v1-images.tar"
    )
    assert shlex.join(diskspace.docker_root_dir()) == "docker info --format '{{.DockerRootDir}}'"
    assert diskspace.parse_df_available(DF) == 8192 * 1024
    assert diskspace.parse_size("123456\n") == 123456
    for bad in ("", "Filesystem 1024-blocks Used Available Capacity Mounted on\n", "df: /x: No such file\nx y"):
        with pytest.raises(UnsafeValue):
            diskspace.parse_df_available(bad)
    with pytest.raises(UnsafeValue):
        diskspace.parse_size("stat: cannot stat")
    with pytest.raises(UnsafeValue):
        diskspace.free_space("relative/dir")


class DockerRootAt(LocalTransport):
    """The console's machine as the host; `docker info` names ``root`` as dockerd's root dir."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.ran: list[list[str]] = []

    async def run(self, argv, **kwargs):
        self.ran.append(list(argv))
        if argv == diskspace.docker_root_dir():
            return CommandResult(list(argv), 0, 0.0, stdout=f"{self.root}\n")
        return await super().run(argv, **kwargs)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mount = tmp_path / "docker"
    mount.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def config_for(tmp_path):
    base = load_config(EXAMPLE)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir(exist_ok=True)
    target = dataclasses.replace(base.target, artifacts_dir=str(artifacts), project_dir=str(tmp_path / "project"))
    (tmp_path / "project").mkdir(exist_ok=True)
    paths = dataclasses.replace(base.paths, state_dir=tmp_path / "state")
    return dataclasses.replace(base, target=target, paths=paths), artifacts


def test_a_tarball_bigger_than_the_free_space_is_refused_before_any_change(tmp_path, tiny_tmpfs):
    config, artifacts = config_for(tmp_path)
    with open(artifacts / "v1-images.tar", "wb") as tar:  # 64 MiB, sparse: its size is what counts
        tar.truncate(64 * 1024 * 1024)
    changed = tmp_path / "project" / "changed"
    steps = [
        Step(
            "disk_space",
            "Room for the images",
            action=lambda ctx: check_space_for_images(ctx, "v1"),
            read_only=True,
            preflight=True,
        ),
        Step(
            "maintenance_on",
            "Switch traffic to maintenance",
            argv=["touch", str(changed)],
            destructive=True,
            mutating=True,
        ),
    ]
    journal = Journal.create(config.paths.state_dir)
    transport = DockerRootAt(tiny_tmpfs)
    events = []
    engine = StepEngine(
        Procedure("rollback", steps, "v2", "v1"),
        StepContext(config, transport, journal),
        ScriptedDecider(),
        assume_yes=True,
        listeners=[events.append],
    )
    assert asyncio.run(engine.run()) == "failed"
    failed = [r for r in journal.records() if r.kind == "step_failed"]
    assert [r.step_id for r in failed] == ["disk_space"]
    assert "not enough disk space" in failed[0].message and "nothing was changed" in failed[0].message
    assert failed[0].detail["free_bytes"] <= 8 * 1024 * 1024
    assert failed[0].detail["needed_bytes"] == space_needed(64 * 1024 * 1024)
    assert not changed.exists()
    assert ["df", "-Pk", "--", str(tiny_tmpfs)] in transport.ran


def test_enough_free_space_lets_the_load_go_on(tmp_path, tiny_tmpfs):
    config, artifacts = config_for(tmp_path)
    (artifacts / "v1-images.tar").write_bytes(b"x" * 1024)
    subprocess.run(["mount", "-o", "remount,size=1g", str(tiny_tmpfs)], check=True)
    ctx = StepContext(config, DockerRootAt(tiny_tmpfs), None)
    result = asyncio.run(check_space_for_images(ctx, "v1"))
    assert result.ok, result.message
    assert result.detail["free_bytes"] >= space_needed(1024)


def test_the_rollback_checks_space_before_its_first_change_when_it_loads_a_tarball(tmp_path):
    config, _ = config_for(tmp_path)
    log = ReleaseLog(
        tmp_path / "releases.toml",
        [
            Release("v1", "2026-11-01T00:00:00Z", pushed=False, migration_head="001_init"),
            Release("v2", "2026-11-02T00:00:00Z", pushed=False),
        ],
        deployed="v2",
    )
    ids = [s.id for s in rollback_procedure(config, log, "v2", "v1").steps]
    assert ids.index("disk_space") < ids.index("maintenance_on") < ids.index("load_images")
    step = rollback_procedure(config, log, "v2", "v1").steps[ids.index("disk_space")]
    assert step.preflight and step.read_only
    log.releases[0] = dataclasses.replace(log.releases[0], pushed=True)  # pulled, not loaded: no tarball
    assert "disk_space" not in [s.id for s in rollback_procedure(config, log, "v2", "v1").steps]
