"""The swarm rollback and verification (console.engine.swarm): the procedure's steps and
commands, and the convergence and verification checks against a scripted swarm manager whose
answers are outputs captured from a real swarm (tests/fixtures/swarm/)."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path

import pytest

from console.engine.context import StepContext
from console.engine.incident import build_rollback, build_verify, open_new_incident, rebuild_procedure
from console.engine.swarm import (
    swarm_rollback_procedure,
    swarm_verify_procedure,
    verify_images,
    verify_replicas,
    verify_tasks,
    wait_converged,
)
from console.release.release_log import ReleaseLog
from console.transport.base import CommandResult
from tests._screens_support import make_config

FIXTURES = Path(__file__).parent / "fixtures" / "swarm"
V1_BACKEND = "sha256:" + "1" * 64
V1_FRONTEND = "sha256:" + "2" * 64


def swarm_config(tmp_path, **commands):
    config = make_config(tmp_path)
    services = [
        dataclasses.replace(config.services[0], name="backend"),
        dataclasses.replace(config.services[1], name="frontend"),
    ]
    target = dataclasses.replace(config.target, engine="swarm", project_name="mrdj", project_dir="/opt/swarm/mr-dj")
    return dataclasses.replace(
        config, target=target, services=services, commands=dataclasses.replace(config.commands, **commands)
    )


def ids(procedure):
    return [s.id for s in procedure.steps]


def test_rollback_steps_in_order(tmp_path):
    config = swarm_config(tmp_path)
    procedure = build_rollback(config, "v1")
    assert procedure.name == "rollback" and (procedure.from_tag, procedure.to_tag) == ("v2", "v1")
    assert ids(procedure)[:12] == [
        "swarm_manager",
        "verify_artifacts",
        "inspect_bundle",
        "disk_space",  # v1 was not pushed: its images come from the tarball
        "migration_check",
        "maintenance_on",
        "migrate_rollback",
        "restore_bundle",
        "load_images",
        "stack_deploy",
        "wait_converged",
        "maintenance_off",
    ]
    assert ids(procedure)[12:17] == ["verify_replicas", "verify_tasks", "verify_images", "verify_logs", "verify_health"]
    assert procedure.options["engine"] == "swarm"
    compose_commands = [
        s.command for s in procedure.steps if "docker compose" in s.command or "docker-compose " in s.command
    ]
    assert compose_commands == []


def test_every_command_is_shown(tmp_path):
    procedure = build_rollback(swarm_config(tmp_path), "v1")
    commands = {s.id: s.command for s in procedure.steps}
    assert commands["stack_deploy"] == (
        "docker stack deploy --with-registry-auth --prune --resolve-image never "
        "-c /opt/swarm/mr-dj/docker-compose.yml mrdj"
    )
    assert commands["restore_bundle"].startswith(
        "tar -xzf /nonexistent/artifacts/v1-compose.tar.gz -C /opt/swarm/mr-dj"
    )
    argv = procedure.step("maintenance_on").argv
    assert argv[3:] == ["sh", "mrdj_backend", *swarm_config(tmp_path).commands.maintenance_on]
    migrate = procedure.step("migrate_rollback").argv
    assert migrate[3] == "sh" and migrate[4] == "mrdj_backend" and "001_init" in " ".join(migrate[5:])
    assert "docker exec" in procedure.step("migration_check").command
    assert "docker stack services mrdj" in commands["wait_converged"]
    assert "docker service logs --timestamps --no-task-ids" in commands["verify_logs"]
    for step in procedure.steps:
        assert step.command, step.id


def test_pushed_release_checks_the_registry_and_resolves_images(tmp_path):
    config = swarm_config(tmp_path)
    log = ReleaseLog.load(config.paths.release_log)
    log.get("v1").pushed = True
    procedure = swarm_rollback_procedure(config, log, "v2", "v1")
    assert "images_available" in ids(procedure) and "load_images" not in ids(procedure)
    assert "--resolve-image always" in procedure.step("stack_deploy").command


def test_switched_off_maintenance_and_migrations_stay_as_skipped_steps(tmp_path):
    config = swarm_config(tmp_path, maintenance=False, migrations=False)
    procedure = build_rollback(config, "v1")
    for step_id in ("maintenance_on", "maintenance_off", "migration_check", "migrate_rollback"):
        step = procedure.step(step_id)
        assert step.argv is None and "switched off" in step.display
        assert step.when is not None and "switched off" in step.when(None)


def test_after_up_order_runs_migrations_in_the_new_release(tmp_path):
    procedure = build_rollback(swarm_config(tmp_path), "v1", "after_up")
    order = ids(procedure)
    assert order.index("wait_converged") < order.index("migration_check") < order.index("migrate_rollback")
    assert procedure.options["migration_order"] == "after_up"


def test_resume_rebuilds_the_swarm_rollback(tmp_path):
    config = swarm_config(tmp_path)
    journal = open_new_incident(config, "v2")
    journal.record(
        "procedure_started",
        procedure="rollback",
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        options={"engine": "swarm", "migration_order": "before_down"},
        resumed=False,
        steps=[],
    )
    journal.record("step_finished", step_id="stack_deploy", exit_code=0, duration=1.0)
    journal.record("procedure_finished", procedure="rollback", outcome="failed", from_tag="v2", to_tag="v1", duration=1)
    procedure, done = rebuild_procedure(config, journal)
    assert "wait_converged" in ids(procedure) and done == {"stack_deploy"}


def test_verify_is_the_swarm_one(tmp_path):
    procedure = build_verify(swarm_config(tmp_path), "v1")
    assert ids(procedure)[:5] == ["verify_replicas", "verify_tasks", "verify_images", "verify_logs", "verify_health"]
    (tmp_path / "c").mkdir()
    compose = build_verify(make_config(tmp_path / "c"), "v1")
    assert ids(compose)[0] == "verify_ps"


def test_smoke_tests_exec_in_a_task(tmp_path):
    config = swarm_config(tmp_path, smoke_tests=[["npm", "run", "smoke:test"]])
    step = swarm_verify_procedure(config, "v1").step("smoke_backend")
    assert step.argv[3:] == ["sh", "mrdj_backend", "npm", "run", "smoke:test"]


# -- the checks, against a scripted manager ------------------------------------------------------


class Manager:
    """Answers each docker command with a captured output (a list: one answer per call)."""

    description = "scripted swarm manager"

    def __init__(self, answers):
        self.answers = answers
        self.commands = []

    async def run(self, argv, timeout=None, *, on_output=None, capture=True, stdin=None):
        self.commands.append(shlex.join(argv))
        for key, outputs in self.answers.items():
            if shlex.join(argv).startswith(key):
                out = outputs.pop(0) if len(outputs) > 1 else outputs[0]
                status, text = out if isinstance(out, tuple) else (0, out)
                return CommandResult(
                    argv, status, 0.0, stdout=text if status == 0 else "", stderr="" if status == 0 else text
                )
        raise AssertionError(f"unexpected command {shlex.join(argv)}")


def fixture(name):
    return (FIXTURES / name).read_text()


def with_digest(text, digests):
    """A captured output whose images are pinned by digest, as the registry resolves them."""
    lines = []
    for line in text.splitlines():
        item = json.loads(line)
        service = item["Name"].split(".")[0]
        if service in digests:
            item["Image"] = f"127.0.0.1:5000/mr-dj-{service.split('_')[1]}:v1@{digests[service]}"
        lines.append(json.dumps(item))
    return "\n".join(lines) + "\n"


def inspect_with(text, refs):
    """A captured ``service inspect`` whose spec images are ``refs`` (swarm service -> image)."""
    items = json.loads(text)
    for item in items:
        item["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = refs[item["Spec"]["Name"]]
    return json.dumps(items)


V1_REFS = {
    "mrdj_backend": f"127.0.0.1:5000/mr-dj-backend:v1@{V1_BACKEND}",
    "mrdj_frontend": f"127.0.0.1:5000/mr-dj-frontend:v1@{V1_FRONTEND}",
}


def converged_answers():
    stack_ps = fixture("stackps_after_update.jsonl").splitlines()
    digests = {"mrdj_backend": V1_BACKEND, "mrdj_frontend": V1_FRONTEND}
    return {
        "docker stack services mrdj": [fixture("services.jsonl")],
        "docker service inspect": [inspect_with(fixture("inspect_completed.json"), V1_REFS)],
        "docker service ps mrdj_backend": [with_digest("\n".join(stack_ps[:2]), digests)],
        "docker service ps mrdj_frontend": [with_digest("\n".join(stack_ps[2:]), digests)],
    }


def ctx_for(tmp_path, manager):
    lines = []
    ctx = StepContext(swarm_config(tmp_path), manager, None, emit_output=lambda stream, out: lines.extend(out))
    return ctx, lines


DIGESTS = {"mrdj_backend": V1_BACKEND, "mrdj_frontend": V1_FRONTEND}


async def test_wait_converged_polls_until_the_update_completes(tmp_path):
    answers = converged_answers()
    answers["docker service inspect"] = [
        fixture("inspect_backend_updated.json"),
        inspect_with(fixture("inspect_completed.json"), V1_REFS),
    ]
    ctx, lines = ctx_for(tmp_path, Manager(answers))
    result = await wait_converged(ctx, DIGESTS, wait=5, poll=0.01)
    assert result.ok, result.message
    assert lines[0].startswith("mrdj_backend: update updating") and lines[-1] == "converged"


async def test_wait_converged_names_the_service_and_its_task_errors(tmp_path):
    answers = {
        "docker stack services mrdj": [fixture("services_failing.jsonl")],
        "docker service inspect": [fixture("inspect_backend_paused.json")],
        "docker service ps mrdj_backend": [fixture("ps_backend_failing.jsonl")],
        "docker service ps mrdj_frontend": [
            with_digest(fixture("stackps_after_update.jsonl").split("\n", 2)[2], DIGESTS)
        ],
    }
    ctx, _ = ctx_for(tmp_path, Manager(answers))
    result = await wait_converged(ctx, None, wait=0.05, poll=0.01)
    assert not result.ok
    assert "did not converge within 0.05 s: mrdj_backend: replicas 0/1, update paused" in result.message
    assert "task: non-zero exit (3)" in result.message and "mrdj_frontend" not in result.message


async def test_wait_converged_says_when_the_manager_cannot_be_read(tmp_path):
    ctx, _ = ctx_for(
        tmp_path,
        Manager({"docker stack services": [(1, "Error response from daemon: This node is not a swarm manager.")]}),
    )
    result = await wait_converged(ctx, None, wait=1, poll=0.01)
    assert not result.ok and "This node is not a swarm manager" in result.message


async def test_verification_passes_on_the_recorded_digests(tmp_path):
    ctx, lines = ctx_for(tmp_path, Manager(converged_answers()))
    assert (await verify_replicas(ctx)).ok
    assert (await verify_tasks(ctx, DIGESTS)).ok
    result = await verify_images(ctx, DIGESTS, "v1")
    assert result.ok, result.message
    assert f"mrdj_backend.1: {V1_BACKEND}" in lines


async def test_verify_images_fails_on_another_digest_and_without_a_record(tmp_path):
    ctx, _ = ctx_for(tmp_path, Manager(converged_answers()))
    other = {"mrdj_backend": "sha256:" + "9" * 64, "mrdj_frontend": V1_FRONTEND}
    result = await verify_images(ctx, other, "v1")
    assert not result.ok and "mrdj_backend.1 runs 127.0.0.1:5000/mr-dj-backend:v1@" in result.message
    result = await verify_images(ctx, {"mrdj_frontend": V1_FRONTEND}, "v1")
    assert not result.ok and "records no image digest (nor reference) of v1 for mrdj_backend" in result.message


async def test_verify_tasks_and_replicas_fail_on_a_crash_loop(tmp_path):
    answers = {
        "docker stack services mrdj": [fixture("services_failing.jsonl")],
        "docker service ps mrdj_backend": [fixture("ps_backend_failing.jsonl")],
        "docker service ps mrdj_frontend": [fixture("ps_backend.jsonl").replace("mrdj_backend", "mrdj_frontend")],
    }
    ctx, _ = ctx_for(tmp_path, Manager(answers))
    replicas = await verify_replicas(ctx)
    assert not replicas.ok and replicas.message == "mrdj_backend has 0/1 replicas"
    tasks = await verify_tasks(ctx, {})
    assert not tasks.ok
    assert "mrdj_backend.1 is Ready less than a second ago (desired ready)" in tasks.message
    assert "task: non-zero exit (3)" in tasks.message


@pytest.mark.parametrize("engine", ["swarm"])
def test_rollback_refuses_a_bad_tag(tmp_path, engine):
    from console.validate import UnsafeValue

    with pytest.raises(UnsafeValue):
        swarm_rollback_procedure(
            swarm_config(tmp_path), ReleaseLog.load(swarm_config(tmp_path).paths.release_log), "v2", "v1;rm"
        )


def test_the_migration_rollback_needs_the_placeholder_and_a_plain_head(tmp_path):
    from console.validate import UnsafeValue

    config = swarm_config(tmp_path, migrate_rollback=["npm", "run", "migrate:rollback"])
    with pytest.raises(UnsafeValue, match="without \\{migration\\}"):
        build_rollback(config, "v1")
    log = ReleaseLog.load(config.paths.release_log)
    log.get("v1").migration_head = "001; rm -rf /"
    with pytest.raises(UnsafeValue, match="refusing migration name"):
        swarm_rollback_procedure(swarm_config(tmp_path), log, "v2", "v1")
    procedure = swarm_rollback_procedure(swarm_config(tmp_path), ReleaseLog.load(config.paths.release_log), "v2", "v1")
    assert procedure.step("migrate_rollback").argv[-3:] == ["--", "--to", "001_init"]


@pytest.mark.parametrize(
    ("answer", "ok", "said"),
    [
        ("active true\n", True, "a swarm manager"),
        ("active false\n", False, "is a swarm worker, not a manager"),
        ("inactive false\n", False, "is not in a swarm (docker says inactive)"),
        ((1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock."), False, "Cannot connect"),
    ],
)
async def test_the_target_must_be_a_manager(tmp_path, answer, ok, said):
    from console.engine.swarm import check_manager

    ctx, _ = ctx_for(tmp_path, Manager({"docker info": [answer]}))
    result = await check_manager(ctx)
    assert result.ok is ok and said in result.message


def test_code_hotfix_deploys_the_hotfix_stack(tmp_path):
    from console.engine.hotfix import build_code_hotfix, rebuild_hotfix
    from console.incident.records import ProcedureStarted

    config = swarm_config(tmp_path)
    procedure = build_code_hotfix(config, "v1", 0.1, running="v2")
    order = ids(procedure)
    assert procedure.name == "code_hotfix" and procedure.options["engine"] == "swarm"
    assert order[:3] == ["swarm_manager", "verify_artifacts", "inspect_bundle"]
    deploy = ["restore_bundle", "load_images", "stack_deploy", "wait_converged", "monitor", "verify_replicas"]
    assert [i for i in order if i in deploy] == deploy
    assert "docker stack deploy" in procedure.step("stack_deploy").command
    started = ProcedureStarted(procedure="code_hotfix", from_tag="v2", to_tag="v1", options={"monitor_minutes": 0.1})
    rebuilt = rebuild_hotfix(config, ReleaseLog.load(config.paths.release_log), "code_hotfix", started, {})
    assert ids(rebuilt) == order


def test_config_hotfix_is_refused_on_a_swarm(tmp_path):
    from console.engine.hotfix import build_config_hotfix

    with pytest.raises(ValueError, match="cannot be applied to a swarm stack"):
        build_config_hotfix(
            swarm_config(tmp_path), service="backend", env_file=None, keys=["A"], flag_command=None, undo_incident=None
        )


def test_expected_images_are_digests_when_pushed_else_the_recorded_refs(tmp_path):
    from console.engine.swarm import expected_digests

    config = swarm_config(tmp_path)
    log = ReleaseLog.load(config.paths.release_log)
    v1 = log.get("v1")
    v1.images = {
        "mr-dj-backend": {"ref": "127.0.0.1:5999/mr-dj-backend:v1", "digest": V1_BACKEND},
        "mr-dj-frontend": {"ref": "127.0.0.1:5999/mr-dj-frontend:v1"},
    }
    v1.pushed = True
    assert expected_digests(config, v1) == {"mrdj_backend": V1_BACKEND}
    v1.pushed = False  # loaded from the tarball: tasks run the reference, no digest
    assert expected_digests(config, v1) == {
        "mrdj_backend": "127.0.0.1:5999/mr-dj-backend:v1",
        "mrdj_frontend": "127.0.0.1:5999/mr-dj-frontend:v1",
    }


async def test_wait_converged_asks_again_after_a_failed_read(tmp_path):
    answers = converged_answers()
    answers["docker stack services mrdj"] = [
        (1, "Error response from daemon: rpc error: \x1b[31mbusy"),
        fixture("services.jsonl"),
    ]
    ctx, lines = ctx_for(tmp_path, Manager(answers))
    result = await wait_converged(ctx, DIGESTS, wait=5, poll=0.01)
    assert result.ok, result.message
    assert lines[0] == "docker stack services failed: Error response from daemon: rpc error: busy"  # no ESC


async def test_recheck_looks_at_the_stack_services(tmp_path):
    from console.engine.incident import recheck_host

    config = swarm_config(tmp_path)
    journal = open_new_incident(config, "v2")
    manager = Manager({"docker stack services mrdj": [fixture("services.jsonl")]})
    notices = []
    await recheck_host(config, manager, journal, notices.append, step_id="stack_deploy")
    assert manager.commands == ["docker stack services mrdj --format '{{json .}}'"]
    assert "mrdj_backend" in notices[0].message and '"Replicas":"1/1"' in notices[0].message


def test_a_dry_run_names_the_swarm_engine_not_a_compose_flavour(tmp_path, capsys):
    from types import SimpleNamespace

    from console.cli.commands import _say_compose

    _say_compose(swarm_config(tmp_path), SimpleNamespace(json=False))
    assert capsys.readouterr().out == "engine: swarm (docker stack deploy of stack mrdj on the manager)\n"
