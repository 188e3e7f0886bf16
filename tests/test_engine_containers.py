"""The read-only steps ask the docker CLI (console.commands.containers), the mutating ones stay
docker-compose: which command each step runs and shows, and what its action concludes from the
host's answer (a fake transport; no network)."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from console.commands.containers import ContainerCommands, shown
from console.config import load_config
from console.engine.context import StepContext
from console.engine.health_failure import failing_service_logs
from console.engine.migrations import check_schema, status_argv
from console.engine.rollback import rollback_procedure
from console.engine.verification import services_running, verification_steps
from console.release.release_log import ReleaseLog
from console.transport.base import CommandResult

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
FIXTURES = ROOT / "tests" / "fixtures" / "docker_ps"
RELEASES = """
[[releases]]
tag = "v1"
captured_at = "2026-11-20T10:00:00Z"
migration_head = "001_init"
[releases.files]
"v1-compose.tar.gz" = "aa"
"v1-images.tar" = "bb"

[[releases]]
tag = "v2"
captured_at = "2026-11-25T10:00:00Z"
migration_head = "002_add_booking_notes"
[releases.files]
"v2-compose.tar.gz" = "cc"
"v2-images.tar" = "dd"
"""


class ScriptedHost:
    """Answers each command with the first (fragment, exit, stdout, stderr) whose fragment is in it."""

    description = "fake"

    def __init__(self, *answers: tuple[str, int, str, str]) -> None:
        self.answers = answers
        self.ran: list[list[str]] = []

    async def connect(self) -> None:
        pass

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False):
        self.ran.append(list(argv))
        line = shlex.join(argv)
        for fragment, code, out, err in self.answers:
            if fragment in line:
                return CommandResult(list(argv), code, 0.0, out, err)
        return CommandResult(list(argv), 0, 0.0)

    async def close(self) -> None:
        pass


def config(**commands):
    base = load_config(EXAMPLE)
    base = dataclasses.replace(base, target=dataclasses.replace(base.target, compose_command="docker-compose"))
    if commands:
        base = dataclasses.replace(base, commands=dataclasses.replace(base.commands, **commands))
    return base


async def test_verify_ps_reads_docker_ps_of_the_sandbox():
    c = config()
    host = ScriptedHost(("docker ps -a", 0, (FIXTURES / "sandbox_healthy.jsonl").read_text(), ""))
    result = await services_running(StepContext(c, host, None))
    assert result.ok, result.message
    assert result.message == "all services up: mr-dj-backend, mr-dj-frontend"
    assert host.ran == [ContainerCommands("mr-dj").ps()]


async def test_verify_ps_names_a_stopped_service_and_ignores_one_offs():
    c = config()
    out = (
        '{"name":"mr-dj_mr-dj-backend_1","service":"mr-dj-backend","number":"1","oneoff":"False",'
        '"state":"running","status":"Up 3 minutes"}\n'
        '{"name":"mr-dj_mr-dj-backend_run_1","service":"mr-dj-backend","number":"1","oneoff":"True",'
        '"state":"exited","status":"Exited (0) 1 minute ago"}\n'
        '{"name":"mr-dj_mr-dj-frontend_1","service":"mr-dj-frontend","number":"1","oneoff":"False",'
        '"state":"exited","status":"Exited (1) 5 seconds ago"}\n'
    )
    result = await services_running(StepContext(c, ScriptedHost(("docker ps -a", 0, out, "")), None))
    assert not result.ok
    assert result.message == "not running: mr-dj-frontend (exited)"


async def test_verify_ps_without_docker_on_the_host_says_so():
    host = ScriptedHost(("docker ps", 127, "", "sh: docker: not found"))
    result = await services_running(StepContext(config(), host, None))
    assert (result.ok, result.message) == (False, "docker ps exited 127: the host has no docker CLI on PATH")


async def test_verify_ps_with_unreadable_output_fails_clearly():
    result = await services_running(StepContext(config(), ScriptedHost(("docker ps", 0, "garbage\n", "")), None))
    assert not result.ok and "docker ps printed a broken JSON line" in result.message


def test_steps_show_the_docker_commands_they_run_and_stack_changes_stay_compose(tmp_path):
    c = config(service_command_mode="exec", migration_order="before_down")
    (tmp_path / "releases.toml").write_text(RELEASES)
    log = ReleaseLog.load(tmp_path / "releases.toml")
    procedure = rollback_procedure(c, log, "v2", "v1")
    by_id = {s.id: s for s in procedure.steps}
    containers = ContainerCommands("mr-dj")
    assert by_id["verify_ps"].command == shlex.join(containers.ps())
    assert by_id["verify_logs"].argv == containers.logs_tail(50)
    assert by_id["smoke_backend"].argv == containers.exec_in_service("mr-dj-backend", c.commands.smoke_tests[0])
    assert by_id["migration_check"].command == shown(
        containers.exec_in_service("mr-dj-backend", c.commands.migrate_status)
    )
    # a command in the running service, mutating or not, is docker exec as compose does it...
    cmds = c.commands
    assert by_id["maintenance_on"].argv == containers.exec_in_service("mr-dj-backend", cmds.maintenance_on)
    assert by_id["maintenance_off"].argv == containers.exec_in_service("mr-dj-backend", cmds.maintenance_off)
    assert by_id["migrate_rollback"].argv[:5] == containers.exec_in_service("mr-dj-backend", ["x"])[:5]
    # ...what changes the stack stays compose
    for step_id in ("compose_down", "compose_up"):
        assert by_id[step_id].argv[0] == "docker-compose", step_id


def test_one_off_containers_stay_compose_run(tmp_path):
    c = config(service_command_mode="run", migration_order="before_down")
    (tmp_path / "releases.toml").write_text(RELEASES)
    procedure = rollback_procedure(c, ReleaseLog.load(tmp_path / "releases.toml"), "v2", "v1")
    by_id = {s.id: s for s in procedure.steps}
    for step_id in ("maintenance_on", "migrate_rollback", "maintenance_off"):
        line = shlex.join(by_id[step_id].argv)
        assert line.startswith("docker-compose -p mr-dj ") and " run --rm -T mr-dj-backend " in line, step_id


def test_steps_keep_their_ids_and_titles():
    steps = verification_steps(config(), "v1")
    assert [(s.id, s.title) for s in steps[:2]] == [
        ("verify_ps", "All services up (compose ps)"),
        ("verify_logs", "Recent logs (compose logs --tail=50)"),
    ]


def test_a_one_off_migration_read_stays_compose_run():
    argv = status_argv(config(), ["npm", "run", "migrate:status"], "run")
    line = shlex.join(argv)
    assert line.startswith("docker-compose -p mr-dj ") and " run --rm --no-deps -T " in line


async def test_schema_check_without_a_running_backend_names_service_and_project():
    said = (
        "no running container of service mr-dj-backend in compose project mr-dj (docker ps shows none): start it first"
    )
    host = ScriptedHost(("migrate:status", 125, "", said + "\n"))
    result = await check_schema(StepContext(config(), host, None), "001_init", "exec")
    assert not result.ok
    assert result.message == f"cannot read the schema version: migrate:status exited 125 ({said})"
    assert host.ran == [ContainerCommands("mr-dj").exec_in_service("mr-dj-backend", ["npm", "run", "migrate:status"])]


async def test_schema_check_never_quotes_the_commands_own_stderr():
    host = ScriptedHost(("migrate:status", 1, "", "DATABASE_URL=postgres://u:secret@db/x refused\n"))
    result = await check_schema(StepContext(config(), host, None), "001_init", "exec")
    assert result.message == "cannot read the schema version: migrate:status exited 1"


async def test_down_sql_reads_use_docker_exec_too():
    c = config(migration_down_sql=["cat", "/app/migrations/{migration}.down.sql"])
    host = ScriptedHost(
        ("migrate:status", 0, "> app migrate:status\n001_init\n002_add_booking_notes\n", ""),
        ("002_add_booking_notes.down.sql", 0, "ALTER TABLE bookings DROP COLUMN notes;\n", ""),
    )
    result = await check_schema(StepContext(c, host, None), "001_init", "exec")
    assert result.ok and result.detail["drops"] == ["column bookings.notes (002_add_booking_notes)"]
    assert host.ran[1] == ContainerCommands("mr-dj").exec_in_service(
        "mr-dj-backend", ["cat", "/app/migrations/002_add_booking_notes.down.sql"]
    )


async def test_failing_service_logs_read_with_docker_logs():
    host = ScriptedHost(("sh mr-dj 20 mr-dj-backend", 0, "mr-dj_mr-dj-backend_1 | boom\n", ""))
    logs = await failing_service_logs(StepContext(config(), host, None), ["mr-dj-backend"])
    assert logs == {"mr-dj-backend": ["mr-dj_mr-dj-backend_1 | boom"]}
    assert host.ran == [ContainerCommands("mr-dj").logs_tail(20, ["mr-dj-backend"])]


async def test_failing_service_logs_say_when_docker_logs_failed():
    host = ScriptedHost(("sh mr-dj 20", 1, "", ""))
    logs = await failing_service_logs(StepContext(config(), host, None), ["mr-dj-backend"])
    assert logs == {"mr-dj-backend": ["(docker logs exited 1)"]}


async def test_the_host_state_before_a_resume_is_read_with_docker_ps(tmp_path):
    from console.engine.incident import open_new_incident, recheck_host

    c = config()
    c = dataclasses.replace(c, paths=dataclasses.replace(c.paths, state_dir=tmp_path / "state"))
    table = "NAMES                   STATUS          IMAGE\nmr-dj_mr-dj-backend_1   Up 2 minutes    mr-dj-backend:v2\n"
    host = ScriptedHost(("docker ps -a", 0, table, ""))
    journal = open_new_incident(c, "v2")
    notices = []
    await recheck_host(c, host, journal, notices.append)
    assert host.ran == [ContainerCommands("mr-dj").ps_table()]
    (check,) = [r for r in journal.records() if r.kind == "resume_check"]
    assert check.ps == table.strip().splitlines() and check.exit_code == 0
    assert "mr-dj_mr-dj-backend_1" in notices[0].message
