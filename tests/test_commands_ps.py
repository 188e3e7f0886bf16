from pathlib import Path

import pytest

from console.commands.ps import PsParseError, ServiceState, parse_ps

FIXTURES = Path(__file__).parent / "fixtures" / "compose_ps"


def load(name):
    return (FIXTURES / name).read_text()


def by_name(states):
    return {s.name: s for s in states}


def test_v2_json_array():
    states = parse_ps(load("v2_array.json"), "docker compose")
    assert [s.service for s in states] == ["db", "mr-dj-backend", "mr-dj-frontend"]
    backend = by_name(states)["mr-dj-mr-dj-backend-1"]
    assert (backend.state, backend.running, backend.health, backend.exit_code) == ("running", True, "unhealthy", None)
    frontend = by_name(states)["mr-dj-mr-dj-frontend-1"]
    assert frontend == ServiceState(
        "mr-dj-mr-dj-frontend-1", "mr-dj-frontend", "exited", False, None, 1, "Exited (1) 30 seconds ago", False
    )


def test_v2_json_lines():
    states = by_name(parse_ps(load("v2_lines.jsonl"), "docker compose"))
    assert len(states) == 5
    assert states["mr-dj-db-1"].health == "healthy"
    assert states["mr-dj-mr-dj-backend-1"].health == "starting"
    assert not states["mr-dj-mr-dj-backend-1"].one_off
    run = states["mr-dj-mr-dj-backend-run-3f5a9c0b1d2e"]
    assert run.one_off and run.service == "mr-dj-backend" and run.health is None
    assert states["mr-dj-mr-dj-frontend-1"].exit_code == 137 and not states["mr-dj-mr-dj-frontend-1"].running
    worker = states["mr-dj-worker-1"]
    assert (worker.state, worker.running, worker.exit_code) == ("restarting", False, None)


def test_v2_single_object_and_empty_outputs():
    line = load("v2_lines.jsonl").splitlines()[0]
    assert [s.service for s in parse_ps(line + "\n")] == ["db"]
    assert parse_ps("") == [] and parse_ps("[]\n") == [] and parse_ps("\n") == []


def test_v2_early_releases_with_human_state_and_no_health_field():
    out = '[{"Name":"mr-dj-mr-dj-backend-1","Service":"mr-dj-backend","State":"Up 3 seconds (healthy)"}]'
    (state,) = parse_ps(out)
    assert (state.state, state.running, state.health) == ("running", True, "healthy")


EXPECTED_V1 = [
    ("mr-dj_db_1", "db", "running", True, "healthy", None, False),
    ("mr-dj_mr-dj-backend_1", "mr-dj-backend", "running", True, "unhealthy", None, False),
    ("mr-dj_mr-dj-backend_run_3f5a9c0b1d2e", "mr-dj-backend", "running", True, None, None, True),
    ("mr-dj_mr-dj-frontend_1", "mr-dj-frontend", "exited", False, None, 137, False),
    ("mr-dj_worker_1", "worker", "restarting", False, None, None, False),
    ("mr-dj_cache_1", "cache", "running", True, "starting", None, False),
    ("mr-dj_paused_svc_1", "paused_svc", "paused", False, None, None, False),
]


# Both fixtures were printed by docker-compose 1.29.2's own Formatter.table (texttable):
# once as over SSH (no terminal: one line per row), once with COLUMNS=80 (cells wrapped).
# One container's command is "echo Up   Exit 1", which must not be taken for its state.
@pytest.mark.parametrize("fixture", ["v1_table.txt", "v1_table_wrapped80.txt"])
def test_v1_table(fixture):
    states = parse_ps(load(fixture), "docker-compose", project_name="mr-dj")
    assert [(s.name, s.service, s.state, s.running, s.health, s.exit_code, s.one_off) for s in states] == EXPECTED_V1
    assert states[3].status == "Exit 137"


def test_v1_without_project_name_leaves_service_unknown():
    states = parse_ps(load("v1_table.txt"), "docker-compose")
    assert all(s.service is None for s in states)


def test_v1_container_names_of_another_project_are_not_guessed():
    states = parse_ps(load("v1_table.txt"), "docker-compose", project_name="other")
    assert all(s.service is None for s in states)


def test_v1_empty_table():
    out = "Name   Command   State   Ports\n------------------------------\n"
    assert parse_ps(out, "docker-compose", "mr-dj") == []


def test_v1_table_with_leading_warning_lines():
    out = "WARNING: Some networks were defined but are not used\n" + load("v1_table.txt")
    assert len(parse_ps(out, "docker-compose", "mr-dj")) == 7


@pytest.mark.parametrize(
    "bad",
    [
        "not a table at all",
        '[{"Name": ',
        '{"Name": "x"}\n{broken',
        "[1, 2]",
        "   Name        Command      State    Ports\n---------------------------------------\n"
        "mr-dj_a_1   run   Sleeping   \n",
    ],
)
def test_unknown_output_is_an_error_not_an_empty_list(bad):
    with pytest.raises(PsParseError):
        parse_ps(bad, "docker compose", "mr-dj")
