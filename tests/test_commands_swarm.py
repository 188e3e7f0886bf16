"""Swarm command builders (argv, no network) and the parsers, on outputs captured from a real
single-node swarm (dockerd 20.10.24, docker CLI 28.2.2; tests/fixtures/swarm/)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from console.commands.swarm import NO_TASK_EXIT, SwarmCommands
from console.commands.swarm_state import (
    SwarmParseError,
    failed_tasks,
    image_digest,
    judge_convergence,
    parse_service_inspect,
    parse_service_ps,
    parse_stack_services,
)
from console.validate import UnsafeValue

FIXTURES = Path(__file__).parent / "fixtures" / "swarm"
DIGEST = "sha256:" + "ab" * 32


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def swarm() -> SwarmCommands:
    return SwarmCommands("mrdj", "/opt/swarm/mr-dj")


def test_deploy_names_every_stack_file_and_the_flags(swarm):
    assert shlex.join(swarm.deploy()) == (
        "docker stack deploy --with-registry-auth --prune --resolve-image always "
        "-c /opt/swarm/mr-dj/docker-compose.yml mrdj"
    )
    two = SwarmCommands("mrdj", "/opt/swarm/mr-dj", ["docker-compose.yml", "prod.yml"])
    assert shlex.join(two.deploy("never")) == (
        "docker stack deploy --with-registry-auth --prune --resolve-image never "
        "-c /opt/swarm/mr-dj/docker-compose.yml -c /opt/swarm/mr-dj/prod.yml mrdj"
    )


def test_looking_commands(swarm):
    assert shlex.join(swarm.services()) == "docker stack services mrdj --format '{{json .}}'"
    assert shlex.join(swarm.stack_ps()) == "docker stack ps mrdj --no-trunc --format '{{json .}}'"
    assert shlex.join(swarm.service_ps("backend")) == (
        "docker service ps mrdj_backend --no-trunc --format '{{json .}}'"
    )
    assert shlex.join(swarm.service_ps("backend", ["desired-state=running"])) == (
        "docker service ps mrdj_backend --no-trunc --filter desired-state=running --format '{{json .}}'"
    )
    assert shlex.join(swarm.inspect(["backend", "frontend"])) == "docker service inspect mrdj_backend mrdj_frontend"
    assert shlex.join(swarm.logs_follow("backend", 20)) == "docker service logs -f --timestamps --tail 20 mrdj_backend"
    assert shlex.join(swarm.logs_tail("frontend", 5)) == (
        "docker service logs --timestamps --no-task-ids --tail 5 mrdj_frontend"
    )


def test_follow_all_passes_services_as_parameters(swarm):
    argv = swarm.logs_follow_all(["backend", "frontend"], 50)
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["sh", "50", "mrdj_backend", "mrdj_frontend"]
    assert "docker service logs -f --timestamps --no-task-ids" in argv[2]


def test_exec_in_task_finds_a_task_by_label_and_passes_values_as_parameters(swarm):
    argv = swarm.exec_in_task("backend", ["npm", "run", "maintenance:on"])
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["sh", "mrdj_backend", "npm", "run", "maintenance:on"]
    script = argv[2]
    assert 'docker ps -q --filter "label=com.docker.swarm.service.name=$1" --filter status=running' in script
    assert f"exit {NO_TASK_EXIT}" in script and "no running task of service $1 on this node" in script
    assert 'exec docker exec -i "$id" "$@"' in script


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.service("back end"),
        lambda s: s.exec_in_task("backend;rm", ["true"]),
        lambda s: s.exec_in_task("backend", "npm run x"),
        lambda s: s.exec_in_task("backend", []),
        lambda s: s.service_ps("backend", ["label=x"]),
        lambda s: s.service_ps("backend", ["desired-state"]),
        lambda s: s.inspect([]),
        lambda s: s.logs_follow_all([]),
        lambda s: s.logs_tail("backend", -1),
        lambda s: s.deploy("sometimes"),
    ],
)
def test_bad_values_are_refused(swarm, call):
    with pytest.raises(UnsafeValue):
        call(swarm)


@pytest.mark.parametrize(
    "args",
    [
        ("Mr-DJ", "/opt/x"),
        ("mrdj", "relative"),
        ("mrdj", "/opt/../etc"),
        ("mrdj", "/opt/x", "/abs.yml"),
        ("mrdj", "/opt/x", []),
    ],
)
def test_bad_stack_or_paths_are_refused(args):
    with pytest.raises(UnsafeValue):
        SwarmCommands(*args)


def test_for_target_uses_project_name_dir_and_compose_files():
    from console.config import Target

    target = Target(host="127.0.0.21", project_name="mrdj", project_dir="/opt/swarm/mr-dj", engine="swarm")
    assert SwarmCommands.for_target(target).deploy()[-3:] == ["-c", "/opt/swarm/mr-dj/docker-compose.yml", "mrdj"]


# -- parsers, on captured outputs ------------------------------------------------------------


def test_stack_services_converged_and_not():
    ok = parse_stack_services(fixture("services.jsonl"))
    assert [(s.name, s.running, s.desired, s.converged) for s in ok] == [
        ("mrdj_backend", 1, 1, True),
        ("mrdj_frontend", 2, 2, True),
    ]
    failing = parse_stack_services(fixture("services_failing.jsonl"))
    assert [(s.name, s.converged) for s in failing] == [("mrdj_backend", False), ("mrdj_frontend", True)]


def test_service_ps_reads_failures_and_history():
    tasks = parse_service_ps(fixture("ps_backend_failing.jsonl"))
    assert tasks[0].state == "ready" and tasks[0].desired == "ready"
    assert [t.error for t in failed_tasks(tasks)] == ["task: non-zero exit (3)"] * 3
    assert tasks[1].desired == "shutdown"  # a failed task is desired Shutdown once replaced


def test_inspect_reads_update_state():
    paused = parse_service_inspect(fixture("inspect_backend_paused.json"))
    assert paused[0].name == "mrdj_backend" and paused[0].update_state == "paused"
    assert paused[0].update_message.startswith("update paused due to failure")
    done = parse_service_inspect(fixture("inspect_completed.json"))
    assert [(s.name, s.update_state, s.replicas, s.image) for s in done] == [
        ("mrdj_backend", "completed", 1, "cap:2"),
        ("mrdj_frontend", "completed", 2, "cap:2"),
    ]


def test_bad_outputs_are_refused_with_what_printed_them():
    with pytest.raises(SwarmParseError, match="docker stack services"):
        parse_stack_services("Nothing found in stack: mrdj\n{")
    with pytest.raises(SwarmParseError, match="Replicas"):
        parse_stack_services('{"Name": "x"}')
    with pytest.raises(SwarmParseError, match="inspect"):
        parse_service_inspect("Error: no such service: x")


def test_image_digest():
    assert image_digest(f"127.0.0.1:5000/mr-dj-backend:v1@{DIGEST}") == DIGEST
    assert image_digest(f"127.0.0.1:5000/mr-dj-backend@{DIGEST}") == DIGEST
    assert image_digest("cap:2") is None


def _tasks(*names):
    return {n: parse_service_ps(fixture(f)) for n, f in names}


def test_converged_after_an_update():
    stack_ps = parse_service_ps(fixture("stackps_after_update.jsonl"))
    tasks = {
        "mrdj_backend": [t for t in stack_ps if t.name.startswith("mrdj_backend.")],
        "mrdj_frontend": [t for t in stack_ps if t.name.startswith("mrdj_frontend.")],
    }
    result = judge_convergence(
        ["mrdj_backend", "mrdj_frontend"],
        parse_stack_services(fixture("services.jsonl")),
        parse_service_inspect(fixture("inspect_completed.json")),
        tasks,
    )
    assert result.converged, result.summary()


def test_replicas_n_of_n_while_the_update_still_runs_is_not_converged():
    result = judge_convergence(
        ["mrdj_backend"],
        parse_stack_services(fixture("services.jsonl")),
        parse_service_inspect(fixture("inspect_backend_updated.json")),
        _tasks(("mrdj_backend", "ps_backend_after_update.jsonl")),
    )
    assert not result.converged
    assert result.problems["mrdj_backend"] == [
        "update updating (update in progress)",
        "task mrdj_backend.1 is ready (desired ready)",
    ]


def test_a_crash_looping_service_names_its_task_errors():
    result = judge_convergence(
        ["mrdj_backend", "mrdj_frontend", "mrdj_worker"],
        parse_stack_services(fixture("services_failing.jsonl")),
        parse_service_inspect(fixture("inspect_backend_paused.json")),
        _tasks(("mrdj_backend", "ps_backend_failing.jsonl")),
    )
    assert set(result.problems) == {"mrdj_backend", "mrdj_worker"}
    assert result.problems["mrdj_worker"] == ["not in the stack"]
    summary = result.summary()
    assert "mrdj_backend: replicas 0/1, update paused" in summary
    assert "task: non-zero exit (3)" in summary


def test_a_task_running_another_digest_is_not_converged():
    running = parse_service_ps(fixture("ps_backend.jsonl"))[:1]
    result = judge_convergence(
        ["mrdj_backend"],
        parse_stack_services(fixture("services.jsonl")),
        [],
        {"mrdj_backend": running},
        {"mrdj_backend": DIGEST},
    )
    assert result.problems["mrdj_backend"] == [f"task mrdj_backend.1 runs cap:1, not {DIGEST}"]


def test_stack_ps_filters(swarm):
    assert shlex.join(swarm.stack_ps(["desired-state=running"])) == (
        "docker stack ps mrdj --no-trunc --filter desired-state=running --format '{{json .}}'"
    )
    with pytest.raises(UnsafeValue):
        swarm.stack_ps(["desired-state=run ning\n"])


def test_live_pane_follows_compose_or_every_swarm_service(tmp_path):
    import dataclasses

    from console.live.follow_command import follow_command
    from tests._screens_support import make_config

    config = make_config(tmp_path)
    from console.commands.compose import ComposeCommands

    assert follow_command(config, 50) == ComposeCommands.for_target(config.target).logs_follow(tail=50)
    target = dataclasses.replace(config.target, engine="swarm", project_name="mrdj")
    services = [dataclasses.replace(s, name=n) for s, n in zip(config.services, ("backend", "frontend"), strict=True)]
    argv = follow_command(dataclasses.replace(config, target=target, services=services), 50)
    assert argv[3:] == ["sh", "50", "mrdj_backend", "mrdj_frontend"] and "sed -u" in argv[2]


def test_followed_swarm_lines_read_as_the_pane_reads_compose_lines():
    """Lines as the follow command printed them on a real swarm (timestamps first, task
    prefix rewritten by its sed): the pane's parser finds each line's service and timestamp."""
    from console.live.logstream import parse_lines

    parsed = parse_lines(fixture("follow_all.txt").splitlines(), "mrdj", ["backend", "frontend"])
    assert (parsed[0].service, parsed[0].timestamp[:19], parsed[0].text) == ("backend", "2026-11-29T15:19:13", "boom")
    assert {p.service for p in parsed} == {"backend"}


def test_runs_image_by_digest_or_by_reference():
    from console.commands.swarm_state import runs_image

    pinned, local = parse_service_ps(fixture("ps_backend.jsonl"))[0], parse_service_ps(fixture("ps_backend.jsonl"))[0]
    assert runs_image(local, "cap:1") and not runs_image(local, "cap:2") and not runs_image(local, DIGEST)
    pinned = type(pinned)(**{**pinned.__dict__, "image": f"127.0.0.1:5000/x:v1@{DIGEST}"})
    assert runs_image(pinned, DIGEST) and runs_image(pinned, "127.0.0.1:5000/x:v1")
    assert not runs_image(pinned, "127.0.0.1:5000/x:v2")


def test_tasks_not_yet_replaced_after_a_deploy_are_not_converged():
    """Right after stack deploy the spec names the new image while the old task still runs."""
    import json

    spec = json.loads(fixture("inspect_completed.json"))[:1]
    spec[0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "cap:1"
    stack_ps = parse_service_ps(fixture("stackps_after_update.jsonl"))
    result = judge_convergence(
        ["mrdj_backend"],
        parse_stack_services(fixture("services.jsonl")),
        parse_service_inspect(json.dumps(spec)),
        {"mrdj_backend": [t for t in stack_ps if t.name.startswith("mrdj_backend.")]},
    )
    assert result.problems == {"mrdj_backend": ["task mrdj_backend.1 runs cap:2, the service spec says cap:1"]}


@pytest.mark.parametrize("busybox_sed", [False, True])
def test_follow_all_rewrites_lines_with_gnu_or_busybox_sed(swarm, tmp_path, busybox_sed):
    """The live pane's command, run by a local shell with a docker that prints a line as swarm
    does (captured): the rewritten line, whichever sed the host has (BusyBox's has no -u)."""
    import os
    import shutil
    import subprocess

    fake = tmp_path / "bin"
    fake.mkdir()
    captured = fixture("logs_backend_no_task_ids.txt").splitlines()[0]  # --no-task-ids, as the pane asks
    (fake / "docker").write_text(f"#!/bin/sh\nprintf '%s\\n' {shlex.quote(captured)}\n")
    (fake / "docker").chmod(0o755)
    path = [str(fake)]
    if busybox_sed:
        (tmp_path / "bb").mkdir()
        (tmp_path / "bb" / "sed").symlink_to(shutil.which("busybox"))
        path.append(str(tmp_path / "bb"))
    env = {"PATH": ":".join([*path, os.environ["PATH"]])}
    result = subprocess.run(swarm.logs_follow_all(["backend"], 3), capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mrdj_backend_1 | 2026-11-29T15:14:06.092422264Z boom\n"
