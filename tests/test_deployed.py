"""The host as the source of truth: matching running images against the release log (no network)."""

import asyncio
import json
import shlex
from datetime import UTC
from pathlib import Path

import pytest

from console.config import Service
from console.engine.incident import build_rollback
from console.engine.rollback import RollbackTargetError
from console.release.deployed import (
    RunningContainer,
    automatic_rollback_target,
    containers_command,
    gather_deployment,
    match_deployment,
    parse_containers,
    parse_image_digests,
)
from console.release.release_log import Release, ReleaseLog
from console.transport.base import CommandResult

SERVICES = [Service("web", "shop-web", "backend"), Service("worker", "shop-worker")]
D = {
    f"{tag}-{svc}": "sha256:" + (f"{tag}{svc}".encode().hex() * 8)[:64]
    for tag in ("v1", "v2", "v3")
    for svc in ("web", "worker")
}


def log_with(tmp_path, deployed="v2", bad=()):
    log = ReleaseLog(tmp_path / "releases.toml")
    for i, tag in enumerate(("v1", "v2", "v3")):
        log.add_release(
            Release(
                tag=tag,
                captured_at=f"2026-11-2{i}T10:00:00Z",
                images={
                    "shop-web": {"ref": f"r/shop-web:{tag}", "digest": D[f"{tag}-web"], "id": f"sha256:id-{tag}-web"},
                    "shop-worker": {"ref": f"r/shop-worker:{tag}", "digest": D[f"{tag}-worker"]},
                },
            )
        )
    for tag in bad:
        log.mark_bad(tag, by="t", reason="broken")
    if deployed:
        log.set_deployed(deployed)
    return log


def running(service, tag=None, *, digest=None, image_id=None, up=True):
    digests = (f"r/x@{digest or D[f'{tag}-{service}']}",) if (tag or digest) else ()
    return RunningContainer(
        f"p-{service}-1", service, f"r/x:{tag}", image_id or f"sha256:local-{service}-{tag}", digests, up
    )


def test_the_release_every_service_runs_is_named(tmp_path):
    d = match_deployment(SERVICES, [running("web", "v2"), running("worker", "v2")], log_with(tmp_path))
    assert d.release == "v2"
    assert d.services["web"].build == "v2"
    assert d.disagreements == []
    assert d.to_dict()["deployed"]["release"] == "v2"
    assert d.to_dict()["release_log"]["deployed"] == "v2"


def test_a_deploy_made_by_hand_disagrees_with_the_log(tmp_path):
    d = match_deployment(SERVICES, [running("web", "v1"), running("worker", "v1")], log_with(tmp_path))
    assert d.release == "v1"
    assert d.disagreements == ["the host runs v1 but the release log says v2 (v2 is not what runs)"]


def test_an_image_id_matches_when_no_digest_is_known(tmp_path):
    web = RunningContainer("p-web-1", "web", "shop-web:v3", "sha256:id-v3-web", (), True)
    d = match_deployment(SERVICES, [web, running("worker", "v3")], log_with(tmp_path, deployed="v3"))
    assert d.release == "v3" and not d.disagreements


def test_an_unknown_build_is_named_by_its_digest(tmp_path):
    unknown = "sha256:" + "f" * 64
    d = match_deployment(SERVICES, [running("web", digest=unknown), running("worker", "v2")], log_with(tmp_path))
    assert d.release is None
    assert d.services["web"].build == f"unknown build {unknown}"
    assert f"service web runs unknown build {unknown}, an image no release in the log captured" in d.disagreements
    assert "the release log says v2 is deployed, but the host does not run v2's images" in d.disagreements


def test_mixed_releases_and_a_stopped_service(tmp_path):
    d = match_deployment(SERVICES, [running("web", "v1"), running("worker", "v2")], log_with(tmp_path))
    assert d.release is None
    assert "the services run different releases (web v1, worker v2)" in d.disagreements
    d = match_deployment(SERVICES, [running("web", "v2"), running("worker", "v2", up=False)], log_with(tmp_path))
    assert d.release is None and d.services["worker"].build == "not running"
    assert "service worker has no running container on the host" in d.disagreements


def test_identical_images_in_two_releases_the_log_breaks_the_tie(tmp_path):
    log = log_with(tmp_path, deployed="v2")
    log.get("v3").images = dict(log.get("v2").images)  # a re-tag of v2's images
    d = match_deployment(SERVICES, [running("web", "v2"), running("worker", "v2")], log)
    assert d.release == "v2" and d.services["web"].releases == ["v3", "v2"]
    assert d.services["web"].build == "v3 or v2"


def test_health_versions_are_weighed_against_the_host_and_the_log(tmp_path):
    d = match_deployment(
        SERVICES,
        [running("web", "v1"), running("worker", "v1")],
        log_with(tmp_path),
        {"backend": "v2", "frontend": "v1", "silent": None},
    )
    assert "health check backend reports version v2 but the host runs v1" in d.disagreements
    assert not any("frontend" in line or "silent" in line for line in d.disagreements)
    d = match_deployment(
        SERVICES,
        [running("web", digest="sha256:" + "e" * 64), running("worker", "v2")],
        log_with(tmp_path),
        {"backend": "v1"},
    )
    assert "health check backend reports version v1 but the release log says v2" in d.disagreements


def test_parse_docker_inspect_leaves_one_off_containers_out():
    text = json.dumps(
        [
            {
                "Name": "/shop_web_1",
                "Image": "sha256:aa",
                "Config": {
                    "Image": "r/shop-web:v1",
                    "Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"},
                },
                "State": {"Running": True},
            },
            {
                "Name": "/shop_web_run_1",
                "Image": "sha256:aa",
                "Config": {
                    "Image": "r/shop-web:v1",
                    "Labels": {"com.docker.compose.service": "web", "com.docker.compose.oneoff": "True"},
                },
                "State": {"Running": True},
            },
            {"Name": "/other", "Image": "sha256:bb", "Config": {"Labels": {}}, "State": {"Running": True}},
        ]
    )
    [web] = parse_containers(text)
    assert (web.name, web.service, web.image_id, web.running) == ("shop_web_1", "web", "sha256:aa", True)
    assert parse_image_digests(json.dumps([{"Id": "sha256:aa", "RepoDigests": ["r/shop-web@sha256:cc"]}])) == {
        "sha256:aa": ("r/shop-web@sha256:cc",)
    }
    with pytest.raises(ValueError):
        parse_containers("not json")


def test_containers_command_passes_the_project_as_a_parameter():
    joined = shlex.join(containers_command("shop"))
    assert joined.startswith("sh -c ") and joined.endswith(" sh shop")
    with pytest.raises(ValueError):
        containers_command("shop; rm -rf /")


class FakeHost:
    description = "fake"

    def __init__(self, answers):
        self.answers = answers

    async def run(self, argv, *, timeout=None, capture=False, **_):
        for prefix, (status, out) in self.answers.items():
            if shlex.join(argv).startswith(prefix):
                return CommandResult(list(argv), status, 0.0, out, "boom" if status else "")
        return CommandResult(list(argv), 127, 0.0, "", "not found")


def _config(tmp_path, log):
    from types import SimpleNamespace

    log.save()
    return SimpleNamespace(
        paths=SimpleNamespace(release_log=log.path),
        services=SERVICES,
        health=[],
        target=SimpleNamespace(project_name="shop"),
    )


def test_gather_reads_containers_then_their_images(tmp_path):
    inspect = json.dumps(
        [
            {
                "Name": f"/shop_{s}_1",
                "Image": f"sha256:{s}",
                "State": {"Running": True},
                "Config": {"Image": "x", "Labels": {"com.docker.compose.service": s}},
            }
            for s in ("web", "worker")
        ]
    )
    images = json.dumps(
        [{"Id": f"sha256:{s}", "RepoDigests": [f"r/shop-{s}@{D['v1-' + s]}"]} for s in ("web", "worker")]
    )
    host = FakeHost({"sh -c": (0, inspect), "docker image inspect": (0, images)})
    d = asyncio.run(gather_deployment(_config(tmp_path, log_with(tmp_path)), host))
    assert d.release == "v1" and d.release_log_deployed == "v2"
    assert d.disagreements == ["the host runs v1 but the release log says v2 (v2 is not what runs)"]


def test_gather_says_when_the_host_cannot_be_read_and_claims_nothing(tmp_path):
    d = asyncio.run(gather_deployment(_config(tmp_path, log_with(tmp_path)), FakeHost({"sh -c": (1, "")})))
    assert d.release is None and d.disagreements == []
    assert d.errors and "docker inspect of project shop failed (exit 1): boom" in d.errors[0]


def test_the_automatic_target_is_older_than_what_runs_not_what_the_log_says(tmp_path, monkeypatch):
    log = log_with(tmp_path, deployed="v3")
    assert automatic_rollback_target(log, "v2") == "v1"
    assert automatic_rollback_target(log, None) is None
    log = log_with(tmp_path, deployed="v3", bad=("v1",))
    assert automatic_rollback_target(log, "v3") == "v2"


def test_build_rollback_from_what_runs(tmp_path):
    from _screens_support import make_config

    config = make_config(tmp_path)
    log = ReleaseLog.load(config.paths.release_log)
    tags = [r.tag for r in log.releases]
    assert log.deployed == tags[-1] and len(tags) >= 2
    procedure = build_rollback(config, None, running=tags[-1])
    assert (procedure.from_tag, procedure.to_tag) == (tags[-1], tags[-2])
    with pytest.raises(RollbackTargetError, match="the host runs no release the release log captured"):
        build_rollback(config, None, running=None)
    procedure = build_rollback(config, tags[0], running=None)
    assert (procedure.from_tag, procedure.to_tag) == (None, tags[0])


def test_rollback_candidates_older_than_what_runs_newest_first(tmp_path):
    from datetime import datetime

    from console.decide.rollback_targets import parse_sums, rollback_candidates

    log = log_with(tmp_path, deployed="v3", bad=("v1",))
    log.get("v2").files = {"v2-compose.tar.gz": "a" * 64, "v2-images.tar": "b" * 64}
    log.get("v1").files = {"v1-compose.tar.gz": "c" * 64}
    sums = parse_sums(f"{'a' * 64}  v2-compose.tar.gz\n{'0' * 64}  v2-images.tar\n{'b' * 64} */opt/a/v2-images.tar\n")
    assert sums == {"v2-compose.tar.gz": "a" * 64, "v2-images.tar": "b" * 64}  # later lines win
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    v2, v1 = rollback_candidates(log, "v3", sums, now)
    assert (v2.tag, v2.automatic, v2.hashes_ok, v2.age) == ("v2", True, True, "2 days ago")
    assert (v1.tag, v1.selectable, v1.hashes_ok) == ("v1", False, False)
    assert v1.hashes == "missing on the host (v1-compose.tar.gz)"
    # a build no release captured: every release is offered, none chosen for the coordinator
    assert [c.tag for c in rollback_candidates(log, None, None, now)] == ["v3", "v2", "v1"]
    assert not any(c.automatic for c in rollback_candidates(log, None, None, now))
    assert rollback_candidates(log, None, None, now)[0].hashes == "no hashes recorded"
    log.get("v3").files = {"v3-compose.tar.gz": "d" * 64}
    assert rollback_candidates(log, None, None, now)[0].hashes_ok is None
    assert rollback_candidates(log, None, {"v3-compose.tar.gz": "e" * 64}, now)[0].hashes.startswith("differ")


def test_record_deploy_checks_the_host_and_forcing_needs_a_reason(tmp_path, monkeypatch, capsys):
    from _screens_support import make_config  # writes tmp_path/releases.toml with v1 and v2 (v2 deployed)
    from console.cli import status as cli_deployed
    from console.cli.main import main
    from console.release.deployed import Deployment

    make_config(tmp_path)
    config = tmp_path / "console.toml"
    text = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text()
    config.write_text(
        text.replace(
            'release_log = "~/.local/state/incident-console/releases.toml"', f'release_log = "{tmp_path}/releases.toml"'
        )
    )
    runs = {"release": "v2"}

    async def host(cfg, *, with_health=True):
        return Deployment(release=runs["release"], services={}, release_log_deployed="v2")

    monkeypatch.setattr(cli_deployed, "host_deployment", host)
    assert main(["--config", str(config), "record-deploy", "v7"]) == 2
    assert "release v7 was never captured (known: v1, v2)" in capsys.readouterr().err
    assert main(["--config", str(config), "record-deploy", "v1"]) == 2
    assert "the host runs v2, not v1" in capsys.readouterr().err
    assert main(["--config", str(config), "record-deploy", "v1", "--force"]) == 2
    assert "--force needs --reason" in capsys.readouterr().err
    assert ReleaseLog.load(tmp_path / "releases.toml").deployed == "v2"
    assert main(["--config", str(config), "record-deploy", "v1", "--force", "--reason", "half rolled out"]) == 0
    log = ReleaseLog.load(tmp_path / "releases.toml")
    assert log.deployed == "v1" and log.get("v1").extra["recorded_deploy"]["reason"] == "half rolled out"
    runs["release"] = "v2"
    assert main(["--config", str(config), "record-deploy", "v2"]) == 0
    assert "(the host runs it)" in capsys.readouterr().out
    assert ReleaseLog.load(tmp_path / "releases.toml").get("v2").extra["recorded_deploy"]["checked"] is True


def test_status_prints_one_json_object(tmp_path, monkeypatch, capsys):
    from console.cli import status as cli_deployed
    from console.cli.main import main

    d = match_deployment(SERVICES, [running("web", "v1"), running("worker", "v1")], log_with(tmp_path))

    async def host(cfg, *, with_health=True):
        return d

    monkeypatch.setattr(cli_deployed, "host_deployment", host)
    assert (
        main(["--config", str(Path(__file__).resolve().parent.parent / "config.example.toml"), "status", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["deployed"]["release"] == "v1" and out["release_log"]["deployed"] == "v2"
    assert out["disagreements"] == ["the host runs v1 but the release log says v2 (v2 is not what runs)"]
    assert out["deployed"]["services"]["web"]["build"] == "v1"


def test_hotfix_candidates_come_after_what_runs(tmp_path):
    from console.release.deployed import hotfix_candidates

    log = log_with(tmp_path, deployed="v3", bad=("v3",))
    assert [r.tag for r in hotfix_candidates(log, "v1")] == ["v2"]  # v3 is bad
    assert [r.tag for r in hotfix_candidates(log, None)] == ["v2", "v1"]  # unknown build: every good one
