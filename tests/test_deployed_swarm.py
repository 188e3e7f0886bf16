"""What a swarm stack runs (console.release.deployed_swarm), matched against the release log as a
compose host's containers are, from a ``docker stack ps`` captured on a real swarm."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from console.release.deployed import match_deployment
from console.release.deployed_swarm import parse_stack_tasks
from console.release.release_log import ReleaseLog

FIXTURES = Path(__file__).parent / "fixtures" / "swarm"
BACKEND_V1 = "sha256:" + "1" * 64
FRONTEND_V1 = "sha256:" + "2" * 64


def pinned_stack_ps() -> str:
    lines = []
    for line in (FIXTURES / "stackps_after_update.jsonl").read_text().splitlines():
        item = json.loads(line)
        service = item["Name"].split(".")[0].split("_")[1]
        digest = BACKEND_V1 if service == "backend" else FRONTEND_V1
        item["Image"] = f"127.0.0.1:5000/mr-dj-{service}:v1@{digest}"
        lines.append(json.dumps(item))
    return "\n".join(lines)


def test_running_tasks_become_the_services_containers():
    running = parse_stack_tasks(pinned_stack_ps(), "mrdj")
    assert [(c.name, c.service, c.digests) for c in running] == [
        ("mrdj_backend.1", "backend", {BACKEND_V1}),
        ("mrdj_frontend.1", "frontend", {FRONTEND_V1}),
        ("mrdj_frontend.2", "frontend", {FRONTEND_V1}),
    ]
    assert running[0].image_ref == "127.0.0.1:5000/mr-dj-backend:v1"


def test_another_stack_and_stopped_tasks_are_left_out():
    assert parse_stack_tasks(pinned_stack_ps(), "other") == []
    unpinned = parse_stack_tasks((FIXTURES / "stackps_after_update.jsonl").read_text(), "mrdj")
    assert [c.digests for c in unpinned] == [set(), set(), set()]  # cap:2 was never pushed


def test_the_stack_release_is_named_from_the_digests(tmp_path):
    from tests._screens_support import write_release_log

    log = ReleaseLog.load(write_release_log(tmp_path / "releases.toml"))
    services = [
        SimpleNamespace(name="backend", image="mr-dj-backend"),
        SimpleNamespace(name="frontend", image="mr-dj-frontend"),
    ]
    deployment = match_deployment(services, parse_stack_tasks(pinned_stack_ps(), "mrdj"), log)
    assert deployment.release == "v1"
