"""The docker-CLI looks into a compose project (console.commands.containers): the exact commands,
their output read into service states (captured from the sandbox's dockerd), and what their
shell scripts do, run here with a fake ``docker`` on PATH (no network)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from console.commands.containers import (
    NO_CONTAINER_EXIT,
    ContainerCommands,
    no_container_message,
    parse_container_ps,
)
from console.commands.ps import PsParseError, ServiceState
from console.validate import UnsafeValue

FIXTURES = Path(__file__).parent / "fixtures" / "docker_ps"
PS_FORMAT = (
    '{"name":{{json .Names}},"service":{{json (.Label "com.docker.compose.service")}},'
    '"number":{{json (.Label "com.docker.compose.container-number")}},'
    '"oneoff":{{json (.Label "com.docker.compose.oneoff")}},"state":{{json .State}},"status":{{json .Status}}}'
)


def test_ps_asks_docker_for_the_projects_containers_by_label():
    assert shlex.join(ContainerCommands("mr-dj").ps()) == (
        "docker ps -a --no-trunc --filter label=com.docker.compose.project=mr-dj --format " + shlex.quote(PS_FORMAT)
    )


def test_ps_table_for_a_person():
    assert shlex.join(ContainerCommands("mr-dj").ps_table()) == (
        "docker ps -a --filter label=com.docker.compose.project=mr-dj --format "
        "'table {{.Names}}\t{{.Status}}\t{{.Image}}'"
    )


def test_exec_passes_project_service_and_command_as_parameters():
    argv = ContainerCommands("mr-dj").exec_in_service("mr-dj-backend", ["npm", "run", "smoke:test", "--prefix", "x y"])
    assert argv[:2] == ["sh", "-c"]
    assert shlex.join(argv[3:]) == "sh mr-dj mr-dj-backend npm run smoke:test --prefix 'x y'"
    script = argv[2]
    # the values are never text of the script
    assert "mr-dj" not in script and "smoke" not in script
    assert 'exec docker exec -i "$id" "$@"' in script
    assert "--filter status=running" in script and "label=com.docker.compose.oneoff=False" in script


def test_logs_tail_names_the_count_and_the_services():
    c = ContainerCommands("mr-dj")
    assert shlex.join(c.logs_tail(50)[3:]) == "sh mr-dj 50"
    assert shlex.join(c.logs_tail(20, ["mr-dj-backend"])[3:]) == "sh mr-dj 20 mr-dj-backend"
    assert 'docker logs --tail "$n" "$name" 2>&1' in c.logs_tail(50)[2]


@pytest.mark.parametrize(
    "make",
    [
        lambda: ContainerCommands("Bad Name"),
        lambda: ContainerCommands("mr-dj").exec_in_service("a;b", ["true"]),
        lambda: ContainerCommands("mr-dj").exec_in_service("backend", "npm test"),
        lambda: ContainerCommands("mr-dj").exec_in_service("backend", []),
        lambda: ContainerCommands("mr-dj").logs_tail(-1),
        lambda: ContainerCommands("mr-dj").logs_tail(5, ["$(reboot)"]),
    ],
)
def test_bad_values_are_refused(make):
    with pytest.raises(UnsafeValue):
        make()


# -- the output, as the sandbox's dockerd printed it -------------------------------------------


def test_parse_the_sandbox_stack():
    states = parse_container_ps((FIXTURES / "sandbox_healthy.jsonl").read_text())
    assert sorted((s.service, s.state, s.running, s.one_off) for s in states) == [
        ("mr-dj-backend", "running", True, False),
        ("mr-dj-frontend", "running", True, False),
    ]
    assert {s.name for s in states} == {"mr-dj_mr-dj-backend_1", "mr-dj_mr-dj-frontend_1"}


def test_parse_the_sandbox_stack_with_a_stopped_service():
    states = {s.service: s for s in parse_container_ps((FIXTURES / "sandbox_frontend_stopped.jsonl").read_text())}
    assert states["mr-dj-frontend"] == ServiceState(
        "mr-dj_mr-dj-frontend_1",
        "mr-dj-frontend",
        "exited",
        False,
        None,
        143,
        "Exited (143) Less than a second ago",
        False,
    )
    assert states["mr-dj-backend"].running


def test_parse_states_health_exit_codes_and_one_offs():
    lines = [
        '{"name":"p-db-1","service":"db","number":"1","oneoff":"False","state":"running",'
        '"status":"Up 2 minutes (healthy)"}',
        '{"name":"p-api-1","service":"api","number":"1","oneoff":"False","state":"running",'
        '"status":"Up 5 seconds (health: starting)"}',
        '{"name":"p-web-1","service":"web","number":"1","oneoff":"False","state":"exited",'
        '"status":"Exited (137) 3 seconds ago"}',
        '{"name":"p-api-run-3f5a9c0b1d2e","service":"api","number":"1","oneoff":"True","state":"running",'
        '"status":"Up 1 second"}',
        '{"name":"p-worker-1","service":"worker","number":"1","oneoff":"False","state":"restarting",'
        '"status":"Restarting (1) 2 seconds ago"}',
    ]
    states = {s.name: s for s in parse_container_ps("\n".join(lines) + "\n")}
    assert states["p-db-1"].health == "healthy"
    assert states["p-api-1"].health == "starting"
    assert states["p-web-1"] == ServiceState(
        "p-web-1", "web", "exited", False, None, 137, "Exited (137) 3 seconds ago", False
    )
    assert states["p-api-run-3f5a9c0b1d2e"].one_off
    worker = states["p-worker-1"]
    assert (worker.state, worker.running, worker.exit_code) == ("restarting", False, None)


def test_parse_empty_and_broken_output():
    assert parse_container_ps("") == [] and parse_container_ps("\n") == []
    with pytest.raises(PsParseError):
        parse_container_ps("Cannot connect to the Docker daemon\n")
    with pytest.raises(PsParseError):
        parse_container_ps("[1, 2]\n")


def test_no_container_message_only_quotes_the_scripts_own_words():
    assert no_container_message("x\nno running container of service b in compose project p (...)\n") == (
        "no running container of service b in compose project p (...)"
    )
    assert no_container_message("password=hunter2\n") is None


# -- the scripts, against a fake docker ---------------------------------------------------------

FAKE_DOCKER = r"""#!/bin/sh
# ps: print $FAKE_PS (one line per container, the --format's fields); logs NAME: two lines, or fail
# for "broken"; exec ID CMD...: say where it ran. Every call is appended to $FAKE_CALLS.
printf '%s\n' "$*" >> "$FAKE_CALLS"
case $1 in
ps) [ -n "$FAKE_PS_FAILS" ] && { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
    printf '%b' "$FAKE_PS" ;;
logs) eval "name=\${$#}"; [ "$name" = broken ] && { echo "Error: No such container: broken" >&2; exit 1; }
    echo "first line of $name"; echo "last line of $name" >&2 ;;
exec) shift; [ "$1" = -i ] && shift; id=$1; shift; echo "in $id: $*" ;;
esac
"""


def run_script(
    tmp_path: Path, argv: list[str], ps: str, *, ps_fails: bool = False
) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_text("")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_PS": ps,
        "FAKE_CALLS": str(calls),
        "FAKE_PS_FAILS": "1" if ps_fails else "",
    }
    # as the transport runs it: one command line, parsed by the host's shell
    done = subprocess.run(["sh", "-c", shlex.join(argv)], capture_output=True, text=True, env=env, timeout=30)
    return done, calls.read_text().splitlines()


def test_exec_picks_the_lowest_container_number(tmp_path):
    argv = ContainerCommands("mr-dj").exec_in_service("backend", ["npm", "run", "smoke:test", "a b"])
    done, calls = run_script(tmp_path, argv, "2 bbb\n10 ccc\n1 aaa\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "in aaa: npm run smoke:test a b\n"
    assert "label=com.docker.compose.project=mr-dj" in calls[0]
    assert "label=com.docker.compose.service=backend" in calls[0]
    assert calls[1] == "exec -i aaa npm run smoke:test a b"


def test_exec_without_a_running_container_names_service_and_project(tmp_path):
    argv = ContainerCommands("mr-dj").exec_in_service("backend", ["true"])
    done, calls = run_script(tmp_path, argv, "")
    assert done.returncode == NO_CONTAINER_EXIT
    assert no_container_message(done.stderr) == (
        "no running container of service backend in compose project mr-dj (docker ps shows none): start it first"
    )
    assert len(calls) == 1  # nothing was exec'd


def test_exec_when_docker_ps_fails_says_so(tmp_path):
    argv = ContainerCommands("mr-dj").exec_in_service("backend", ["true"])
    done, calls = run_script(tmp_path, argv, "", ps_fails=True)
    assert done.returncode == NO_CONTAINER_EXIT
    assert "cannot list the containers of service backend in compose project mr-dj" in done.stderr
    assert no_container_message(done.stderr) is not None


def test_logs_tail_prefixes_each_line_with_its_service_and_number_in_compose_order(tmp_path):
    ps = "web:1:p_web_1\napi:2:p_api_2\napi:1:p_api_1\ndb:1:p_db_1\n"
    done, calls = run_script(tmp_path, ContainerCommands("p").logs_tail(7), ps)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "api-1 | first line of p_api_1",
        "api-1 | last line of p_api_1",
        "api-2 | first line of p_api_2",
        "api-2 | last line of p_api_2",
        "db-1 | first line of p_db_1",
        "db-1 | last line of p_db_1",
        "web-1 | first line of p_web_1",
        "web-1 | last line of p_web_1",
    ]
    assert "--filter label=com.docker.compose.oneoff=False" in calls[0]
    assert calls[1:] == [f"logs --tail 7 {n}" for n in ("p_api_1", "p_api_2", "p_db_1", "p_web_1")]


def test_logs_tail_of_some_services_and_a_failing_read(tmp_path):
    ps = "web:1:p_web_1\napi:1:broken\ndb:1:p_db_1\n"
    done, calls = run_script(tmp_path, ContainerCommands("p").logs_tail(5, ["api", "web"]), ps)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "api-1 | Error: No such container: broken",
        "web-1 | first line of p_web_1",
        "web-1 | last line of p_web_1",
    ]


def test_logs_tail_of_a_project_without_containers(tmp_path):
    done, calls = run_script(tmp_path, ContainerCommands("p").logs_tail(5), "")
    assert (done.returncode, done.stdout) == (0, "")


def test_an_exec_or_logs_script_is_shown_as_a_person_would_type_it():
    from console.commands.containers import readable, shown

    c = ContainerCommands("mr-dj")
    exec_argv = c.exec_in_service("mr-dj-backend", ["npm", "run", "smoke:test", "--prefix", "a b"])
    assert readable(exec_argv) == (
        "docker exec -i $(docker ps -q --filter label=com.docker.compose.project=mr-dj "
        "--filter label=com.docker.compose.service=mr-dj-backend --filter status=running | head -n 1) "
        "npm run smoke:test --prefix 'a b'"
    )
    assert readable(c.logs_tail(50)) == (
        "for c in $(docker ps -a -q --filter label=com.docker.compose.project=mr-dj "
        '--filter label=com.docker.compose.oneoff=False); do docker logs --tail 50 "$c"; done'
    )
    assert readable(c.logs_tail(5, ["mr-dj-frontend"])).endswith("done (services mr-dj-frontend)")
    # any other argv, another script included, is shown shell-quoted as before
    other = ["sh", "-c", "echo $1", "sh", "mr-dj", "x"]
    assert readable(other) is None and shown(other) == "sh -c 'echo $1' sh mr-dj x"
    assert readable(c.ps()) is None and shown(["docker", "ps"]) == "docker ps"


def test_a_step_shows_the_readable_form_and_journals_the_exact_argv():
    from console.engine.procedure import Step

    argv = ContainerCommands("mr-dj").exec_in_service("mr-dj-backend", ["npm", "run", "maintenance:on"])
    step = Step("maintenance_on", "Switch traffic to maintenance", argv=argv)
    assert step.command.startswith("docker exec -i $(docker ps -q ") and step.command.endswith(
        " npm run maintenance:on"
    )
    assert step.argv == argv  # what runs, and what StepStarted journals beside the command
