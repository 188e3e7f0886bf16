"""Evidence: deploy age, image digests, compose/env keys and migrations between two releases.

Unit tests build real compose bundles in a temporary artifacts directory and read them
through the local transport (the same ``tar`` commands the host runs); the sandbox tests
read v1 and v2's bundles on the sandbox host over SSH.
"""

import asyncio
import dataclasses
import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.config import load_config
from console.decide.evidence import (
    Evidence,
    ImageChange,
    KeyChange,
    describe,
    env_key_changes,
    format_age,
    gather_evidence,
    image_changes,
    migrations_added,
    short_digest,
)
from console.failures import ConnectionLost
from console.release.release_log import Release, ReleaseLog
from console.transport.local import LocalTransport

ROOT = Path(__file__).resolve().parent.parent
DEPLOYED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECRET_OLD = "postgres://app:OLD-pw-9f8e7d@db/app"
SECRET_NEW = "postgres://app:NEW-pw-1a2b3c@db/app"
TOKEN = "tok_unchanged_5e5e5e5e"

COMPOSE = """\
version: "2.4"
services:
  mr-dj-backend:
    image: 127.0.0.1:5000/mr-dj-backend:{tag}
    env_file: backend/.env
    network_mode: host
{extra}"""


def bundle(directory: Path, tag: str, files: dict[str, str]) -> None:
    with tarfile.open(directory / f"{tag}-compose.tar.gz", "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def release(tag: str, day: int, backend: str, frontend: str | None = None, **kw) -> Release:
    images = {"mr-dj-backend": {"ref": f"r/mr-dj-backend:{tag}", "digest": backend}}
    if frontend:
        images["mr-dj-frontend"] = {"ref": f"r/mr-dj-frontend:{tag}", "digest": frontend}
    return Release(tag=tag, captured_at=f"2026-11-{day:02d}T10:00:00Z", images=images, **kw)


@pytest.fixture(autouse=True)
def host_not_read(monkeypatch, request):
    """These tests are about the bundles: the host's containers are console.release.deployed's (test_deployed),
    and a docker daemon on the test machine must not leak into them."""
    if request.node.get_closest_marker("sandbox"):
        return

    async def unread(transport, project_name):
        raise ValueError("containers are not read in these tests")

    monkeypatch.setattr("console.release.deployed.read_containers", unread)


@pytest.fixture
def artifacts(tmp_path):
    directory = tmp_path / "artifacts"
    directory.mkdir()
    bundle(
        directory,
        "v1",
        {
            "docker-compose.yml": COMPOSE.format(tag="v1", extra=""),
            "backend/.env": f"RELEASE=v1\nDATABASE_URL={SECRET_OLD}\nAPI_TOKEN={TOKEN}\nOLD_FLAG=1\n",
            "frontend/.env": "API_URL=http://127.0.0.1:8080\n",
            "migrations/001_init.up.sql": "create table t();",
            "migrations/001_init.down.sql": "drop table t;",
        },
    )
    bundle(
        directory,
        "v2",
        {
            "./docker-compose.yml": COMPOSE.format(tag="v2", extra='    environment:\n      FEATURE_X: "on"\n'),
            "./backend/.env": (
                f"# comment\nexport RELEASE=v2\nDATABASE_URL=\"{SECRET_NEW}\"\nAPI_TOKEN='{TOKEN}'\nFEATURE_X=true\n"
            ),
            "./frontend/.env": "API_URL=http://127.0.0.1:8080\n",
            "./migrations/001_init.up.sql": "create table t();",
            "./migrations/002_add_booking_notes.up.sql": "alter table t add notes text;",
            "./migrations/002_add_booking_notes.down.sql": "alter table t drop notes;",
        },
    )
    return directory


@pytest.fixture
def config(artifacts):
    base = load_config(ROOT / "config.example.toml")
    return dataclasses.replace(base, target=dataclasses.replace(base.target, artifacts_dir=str(artifacts)))


@pytest.fixture
def log(tmp_path):
    return ReleaseLog(
        tmp_path / "releases.toml",
        [
            release("v0", 20, "sha256:aaaa0000", "sha256:ffff0000", bad={"by": "x", "at": "y", "reason": "z"}),
            release("v1", 22, "sha256:9ef0aaaa", "sha256:ffff0000"),
            release("v2", 25, "sha256:cb0cbbbb", "sha256:ffff0000", deployed_at="2026-11-25T12:00:00Z"),
        ],
        deployed="v2",
    )


def everything_said(evidence: Evidence) -> str:
    return repr(evidence) + "\n".join(describe(evidence)) + str(evidence) + "".join(evidence.errors)


@pytest.mark.asyncio
async def test_gathers_every_kind_of_change_from_two_bundles(config, log):
    evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT + timedelta(minutes=7))
    assert evidence.errors == []
    assert (evidence.deployed_tag, evidence.previous_tag) == ("v2", "v1")
    assert evidence.deployed_at == DEPLOYED_AT
    assert evidence.minutes_since_deploy == pytest.approx(7)
    assert evidence.within_impact_window is True
    assert evidence.image_changes == [ImageChange("mr-dj-backend", "sha256:9ef0aaaa", "sha256:cb0cbbbb")]
    assert evidence.compose_changes == [
        KeyChange("docker-compose.yml", "services.mr-dj-backend.environment.FEATURE_X", "added"),
        KeyChange("docker-compose.yml", "services.mr-dj-backend.image", "changed"),
    ]
    # export/quotes do not count as a change: API_TOKEN has the same value in both.
    assert evidence.env_changes == [
        KeyChange("backend/.env", "DATABASE_URL", "changed"),
        KeyChange("backend/.env", "FEATURE_X", "added"),
        KeyChange("backend/.env", "OLD_FLAG", "removed"),
        KeyChange("backend/.env", "RELEASE", "changed"),
    ]
    assert evidence.migrations_added == ["002_add_booking_notes"]
    assert describe(evidence) == [
        "deployed v2 7 min ago — within the 30-min window: roll back immediately",
        "previous known-good release: v1",
        "image mr-dj-backend changed sha256:9ef0… → sha256:cb0c…",
        "compose docker-compose.yml: services.mr-dj-backend.environment.FEATURE_X added",
        "compose docker-compose.yml: services.mr-dj-backend.image changed",
        "env backend/.env: DATABASE_URL changed",
        "env backend/.env: FEATURE_X added",
        "env backend/.env: OLD_FLAG removed",
        "env backend/.env: RELEASE changed",
        "migration added: 002_add_booking_notes",
    ]
    said = everything_said(evidence)
    for value in (SECRET_OLD, SECRET_NEW, TOKEN, "OLD-pw", "NEW-pw", "http://127.0.0.1:8080"):
        assert value not in said


@pytest.mark.asyncio
async def test_outside_the_impact_window(config, log):
    evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT + timedelta(minutes=31))
    assert evidence.within_impact_window is False
    assert describe(evidence)[0] == (
        "deployed v2 31 min ago — outside the 30-min window: weigh a hotfix against a rollback"
    )
    shorter = dataclasses.replace(config, thresholds=dataclasses.replace(config.thresholds, impact_window_minutes=5))
    evidence = await gather_evidence(shorter, LocalTransport(), log, now=DEPLOYED_AT + timedelta(minutes=4))
    assert evidence.within_impact_window is True
    assert "within the 5-min window" in describe(evidence)[0]


@pytest.mark.asyncio
async def test_missing_bundle_is_an_error_in_words_not_an_exception(config, log, artifacts):
    (artifacts / "v1-compose.tar.gz").unlink()
    evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT)
    assert evidence.image_changes  # the release log still answers
    assert evidence.compose_changes == [] and evidence.env_changes == [] and evidence.migrations_added == []
    assert len(evidence.errors) == 1
    assert "cannot list the bundle of v1" in evidence.errors[0] and "v1-compose.tar.gz" in evidence.errors[0]
    assert describe(evidence)[-1].startswith("could not check: cannot list the bundle of v1")
    assert SECRET_NEW not in everything_said(evidence)


@pytest.mark.asyncio
async def test_env_file_missing_from_one_bundle_counts_its_keys_as_added(config, log, artifacts):
    bundle(
        artifacts,
        "v1",
        {"docker-compose.yml": COMPOSE.format(tag="v1", extra=""), "frontend/.env": "API_URL=http://127.0.0.1:8080\n"},
    )
    evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT)
    assert evidence.errors == ["backend/.env is not in v1's compose bundle"]
    assert {c.key: c.change for c in evidence.env_changes} == {
        "RELEASE": "added",
        "DATABASE_URL": "added",
        "API_TOKEN": "added",
        "FEATURE_X": "added",
    }
    assert evidence.migrations_added == ["001_init", "002_add_booking_notes"]  # v1 had none at all


@pytest.mark.asyncio
async def test_compose_that_is_not_yaml_falls_back_to_top_level_keys(config, log, artifacts):
    bundle(artifacts, "v1", {"docker-compose.yml": "x-base: *undefined\nservices: {}\n", "backend/.env": "A=1\n"})
    evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT)
    assert [(c.key, c.change) for c in evidence.compose_changes] == [
        ("services", "changed"),
        ("version", "added"),
        ("x-base", "removed"),
    ]
    assert any(
        "docker-compose.yml: line 1: found undefined alias" in e and "top-level block" in e for e in evidence.errors
    )


class BrokenLink:
    description = "broken"

    async def run(self, argv, **kw):
        raise ConnectionLost("deploy@vps:22: connection lost during tar; its outcome is UNKNOWN")


@pytest.mark.asyncio
async def test_host_errors_are_reported_not_raised(config, log):
    evidence = await gather_evidence(config, BrokenLink(), log, now=DEPLOYED_AT)
    assert evidence.image_changes and evidence.within_impact_window is True
    assert len(evidence.errors) == 2
    assert all("connection lost" in e for e in evidence.errors)


@pytest.mark.asyncio
async def test_release_log_problems(config, tmp_path):
    empty = ReleaseLog(tmp_path / "r.toml")
    evidence = await gather_evidence(config, LocalTransport(), empty)
    assert evidence.deployed_tag is None and evidence.errors == [
        "neither the host nor the release log names a deployed release"
    ]
    assert describe(evidence)[0] == "no deployed release recorded"

    only = ReleaseLog(tmp_path / "r.toml", [release("v1", 22, "sha256:1")], deployed="v1")
    evidence = await gather_evidence(config, LocalTransport(), only)
    assert evidence.previous_tag is None and evidence.minutes_since_deploy is None
    assert evidence.errors == [
        "the release log has no deploy time for v1",
        "no previous known-good release before v1 in the release log",
    ]
    assert describe(evidence)[:2] == [
        "deployed v1 (deploy time unknown)",
        "no previous known-good release to roll back to",
    ]

    broken = tmp_path / "broken.toml"
    broken.write_text("deployed = [")
    evidence = await gather_evidence(config, LocalTransport(), broken)
    assert evidence.errors and evidence.errors[0].startswith("cannot read the release log")


@pytest.mark.asyncio
async def test_deploy_time_in_the_future_is_clamped_and_said(config, log):
    evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT - timedelta(minutes=3))
    assert evidence.minutes_since_deploy == 0 and evidence.within_impact_window is True
    assert any("in the future" in e for e in evidence.errors)


def test_env_key_changes_never_hold_values():
    changes = env_key_changes(
        "backend/.env", "A=1\nB=secret-b\n# C=x\nD=\n", "A=1\nB=secret-b2\nC=3\nexport D=\nnot a line\n"
    )
    assert changes == [KeyChange("backend/.env", "B", "changed"), KeyChange("backend/.env", "C", "added")]
    assert "secret-b" not in repr(changes)


def test_image_changes_include_added_and_removed_services():
    old = {"a": {"digest": "sha256:1"}, "b": {"digest": "sha256:2"}}
    new = {"a": {"digest": "sha256:1"}, "c": {"digest": "sha256:3"}}
    assert image_changes(old, new) == [ImageChange("b", "sha256:2", None), ImageChange("c", None, "sha256:3")]
    lines = describe(Evidence("v2", "v1", image_changes=image_changes(old, new)))
    assert "image b removed (was sha256:2…)" in lines and "image c added sha256:3…" in lines


def test_migrations_added_by_name():
    old = ["migrations/001_init.up.sql", "migrations/", "docker-compose.yml"]
    new = old + ["migrations/002_x.up.sql", "migrations/002_x.down.sql", "db/003_y.sql", "docs/004.md"]
    assert migrations_added(old, new) == ["002_x"]
    assert migrations_added(old, new, ["db"]) == ["002_x", "003_y"]
    assert migrations_added(None, new) == []


def test_no_differences_and_ages_are_said_plainly():
    evidence = Evidence("v2", "v1", minutes_since_deploy=0.2, within_impact_window=True)
    assert describe(evidence) == [
        "deployed v2 just now — within the 30-min window: roll back immediately",
        "previous known-good release: v1",
        "no differences found between v1 and v2",
    ]
    assert format_age(125) == "2 h 5 min ago" and format_age(60 * 24 * 3) == "3 days ago"
    assert short_digest("sha256:cb0c1234") == "sha256:cb0c…" and short_digest(None) == "none"


# -- against the sandbox -------------------------------------------------------------------


@pytest.mark.sandbox
def test_sandbox_v2_against_v1(sandbox_config_path):
    from console.transport.ssh import SSHTransport

    config = load_config(sandbox_config_path)
    log = ReleaseLog.load(config.paths.release_log)
    assert log.deployed == "v2"

    async def gather():
        transport = SSHTransport(config.target)
        await transport.connect()
        try:
            evidence = await gather_evidence(config, transport, log)
            # The value the evidence must never show, read the same way for the check.
            env = await transport.run(
                ["tar", "-xzOf", f"{config.target.artifacts_dir}/v2-compose.tar.gz", "backend/.env"], capture=True
            )
            return evidence, env.stdout
        finally:
            await transport.close()

    evidence, backend_env = asyncio.run(gather())
    assert evidence.errors == []
    assert (evidence.deployed_tag, evidence.previous_tag) == ("v2", "v1")
    v1, v2 = log.get("v1"), log.get("v2")
    assert evidence.deployed_at.strftime("%Y-%m-%dT%H:%M:%SZ") == v2.deployed_at
    assert evidence.minutes_since_deploy >= 0
    assert evidence.within_impact_window == (evidence.minutes_since_deploy <= 30)
    changed = {c.service: (c.old_digest, c.new_digest) for c in evidence.image_changes}
    assert changed["mr-dj-backend"] == (v1.images["mr-dj-backend"]["digest"], v2.images["mr-dj-backend"]["digest"])
    assert "002_add_booking_notes" in evidence.migrations_added
    assert KeyChange("docker-compose.yml", "services.mr-dj-backend.image", "changed") in evidence.compose_changes
    env_keys = {(c.file, c.key): c.change for c in evidence.env_changes}
    assert env_keys[("backend/.env", "RELEASE")] == "changed"
    values = [line.split("=", 1)[1] for line in backend_env.splitlines() if "=" in line]
    database_url = next(line.split("=", 1)[1] for line in backend_env.splitlines() if line.startswith("DATABASE_URL="))
    said = everything_said(evidence)
    assert database_url and database_url not in said
    for value in values:
        if len(value) > 3:  # "v2" and the like are also tags, said on purpose
            assert value not in said
    lines = describe(evidence)
    assert lines[0].startswith("deployed v2 ")
    assert "migration added: 002_add_booking_notes" in lines
    assert any(line.startswith("image mr-dj-backend changed sha256:") for line in lines)


@pytest.mark.asyncio
@pytest.mark.skipif(not __import__("shutil").which("docker-compose"), reason="needs docker-compose (v1) here")
async def test_the_hosts_compose_cli_resolves_both_models_once_asked(config, log):
    from console import host_facts

    host_facts.forget_all()
    host_facts.remember(config.target, host_facts.parse_probe("compose=v1\n"))
    try:
        evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT)
    finally:
        host_facts.forget_all()
    assert not [e for e in evidence.errors if "compose" in e], evidence.errors
    changes = {(c.key, c.change) for c in evidence.compose_changes}
    assert ("services.mr-dj-backend.image", "changed") in changes
    assert ("services.mr-dj-backend.environment.FEATURE_X", "added") in changes
    assert all(c.file == "docker-compose.yml" for c in evidence.compose_changes)
    said = everything_said(evidence)
    for value in (SECRET_OLD, SECRET_NEW, TOKEN):
        assert value not in said


@pytest.mark.asyncio
async def test_a_host_without_compose_compares_the_files_and_says_why(config, log):
    from console import host_facts

    host_facts.forget_all()
    host_facts.remember(config.target, host_facts.parse_probe("arch=x86_64\n"))
    try:
        evidence = await gather_evidence(config, LocalTransport(), log, now=DEPLOYED_AT)
    finally:
        host_facts.forget_all()
    assert "compose model: the host has no compose CLI; compared the files as written" in evidence.errors
    assert KeyChange("docker-compose.yml", "services.mr-dj-backend.image", "changed") in evidence.compose_changes
