"""The headless CLI's contracts: verbs, flags and exit codes (no network)."""

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from _screens_support import HostStandIn, make_config  # tests/ is on sys.path under plain `pytest` too
from console.cli import commands as cli_commands
from console.engine.incident import open_new_incident
from console.engine.procedure import ActionResult, Procedure, Step
from console.incident.journal import Journal
from console.notify import messages

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "console", *args], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env
    )


def test_check_config_accepts_the_example():
    result = run("check-config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_lists_every_problem_and_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text()
        .replace("port = 22 ", "port = 99999 ")
        .replace('webhook_url = "env:SLACK_WEBHOOK_URL"', 'webhook_url = "https://hooks.example/x"')
    )
    result = run("check-config", str(bad))
    assert result.returncode == 2
    assert "target.port: must be between 1 and 65535" in result.stderr
    assert "notifications.slack.webhook_url" in result.stderr
    assert "hooks.example" not in result.stderr


def test_version_and_help():
    assert run("--version").stdout.startswith("incident-console ")
    help_text = run("--help").stdout
    for verb in ("check-config", "rollback", "hotfix", "verify", "incidents", "resume", "report", "unlock"):
        assert verb in help_text


def config_with_state(tmp_path):
    text = EXAMPLE.read_text().replace(
        'state_dir = "~/.local/state/incident-console"', f'state_dir = "{tmp_path / "state"}"'
    )
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_rollback_refuses_an_unsafe_tag_with_exit_2(tmp_path):
    result = run("--config", str(config_with_state(tmp_path)), "rollback", "--to", "v1\n", "--yes")
    assert result.returncode == 2
    assert "refusing release tag" in result.stderr


def test_incidents_newest_first_with_state(tmp_path):
    config = config_with_state(tmp_path)
    older = Journal.create(tmp_path / "state", "20261125-010000-aaaa")
    older.record("incident_opened", incident_id=older.incident_id, target="deploy@h:22", deployed="v2")
    older.record("procedure_started", procedure="rollback", from_tag="v2", to_tag="v1", dry_run=False)
    older.record("procedure_finished", procedure="rollback", outcome="succeeded", from_tag="v2", to_tag="v1")
    newer = Journal.create(tmp_path / "state", "20261125-020000-bbbb")
    newer.record("incident_opened", incident_id=newer.incident_id, target="deploy@h:22", deployed="v1")
    newer.record("procedure_started", procedure="rollback", from_tag="v1", to_tag="v0", dry_run=False)
    result = run("--config", str(config), "incidents", "--json")
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert [i["id"] for i in items] == ["20261125-020000-bbbb", "20261125-010000-aaaa"]
    assert [i["state"] for i in items] == ["running", "succeeded"]
    assert items[1]["to_tag"] == "v1"


def test_report_and_unknown_incident(tmp_path):
    config = config_with_state(tmp_path)
    journal = Journal.create(tmp_path / "state", "20261125-030000-cccc")
    journal.record(
        "incident_opened",
        incident_id=journal.incident_id,
        operator="alice",
        target="deploy@h:22",
        project="mr-dj",
        deployed="v2",
        ttr_target_minutes=15,
    )
    out = tmp_path / "report.md"
    result = run("--config", str(config), "report", journal.incident_id, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert journal.incident_id in out.read_text()
    assert run("--config", str(config), "report", "nope").returncode == 2
    assert run("--config", str(config), "resume", "nope").returncode == 2


# -- announcing the incident to Slack / the status page (no network: announce is recorded) ----


async def _checked(ctx) -> ActionResult:
    return ActionResult(True, "checked")


def check_procedure() -> Procedure:
    return Procedure("config_hotfix", [Step("check", "A check", action=_checked, display="check", read_only=True)])


def headless_args() -> argparse.Namespace:
    return argparse.Namespace(json=True, yes=True, dry_run=False)


@pytest.fixture
def headless(monkeypatch, tmp_path):
    """A config, a stand-in host, and the events _execute would announce."""
    config = make_config(tmp_path)
    announced: list[str] = []

    async def announce(notifier, event, **details):
        if notifier is not None:
            announced.append(event)

    async def flush(notifier, seconds=0):
        pass

    monkeypatch.setattr("console.engine.announce.announce", announce)
    monkeypatch.setattr("console.engine.announce.flush", flush)
    monkeypatch.setattr(
        "console.engine.announce.incident_notifier", lambda config, journal: None if journal is None else object()
    )
    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: HostStandIn())
    return config, announced


def test_a_new_incident_is_announced_once(headless):
    config, announced = headless
    code = asyncio.run(cli_commands._execute(config, check_procedure(), headless_args()))
    assert code == cli_commands.EXIT_OK
    assert announced == [messages.INCIDENT_OPENED, messages.PROCEDURE_STARTED, messages.PROCEDURE_FINISHED]


def test_an_incident_opened_elsewhere_is_not_announced_again(headless):
    # Opened (and announced) by whoever created it: its journal holds only incident_opened,
    # which must not read as "just opened here".
    config, announced = headless
    journal = open_new_incident(config, "v2")
    asyncio.run(cli_commands._execute(config, check_procedure(), headless_args(), journal=journal))
    assert messages.INCIDENT_OPENED not in announced
    assert announced == [messages.PROCEDURE_STARTED, messages.PROCEDURE_FINISHED]


def test_a_resumed_incident_is_not_announced_again(headless):
    config, announced = headless
    journal = open_new_incident(config, "v2")
    journal.record("procedure_started", procedure="config_hotfix", from_tag=None, to_tag="v2", dry_run=False)
    journal.record("procedure_interrupted", procedure="config_hotfix", step_id="check")
    asyncio.run(
        cli_commands._execute(
            config, check_procedure(), headless_args(), journal=journal, done_steps=set(), resume=True
        )
    )
    assert messages.INCIDENT_OPENED not in announced
    assert announced == [messages.PROCEDURE_STARTED, messages.PROCEDURE_FINISHED]


def test_config_hotfix_announces_the_incident_it_opens_once(headless, monkeypatch):
    config, announced = headless
    monkeypatch.setattr(cli_commands, "_config", lambda args: config)
    monkeypatch.setattr("console.engine.hotfix.build_config_hotfix", lambda config, **options: check_procedure())
    args = argparse.Namespace(
        service="backend",
        env_file=None,
        set=[],
        flag_command=None,
        undo=None,
        dry_run=False,
        yes=True,
        json=True,
        config=None,
    )
    assert cli_commands.cmd_config_hotfix(args) == cli_commands.EXIT_OK
    assert announced.count(messages.INCIDENT_OPENED) == 1
    assert announced[0] == messages.INCIDENT_OPENED


def test_config_hotfix_on_an_unreachable_host_leaves_no_empty_incident(headless, monkeypatch):
    from console.failures import ConnectionLost
    from console.incident.journal import list_incidents

    config, announced = headless

    class Unreachable(HostStandIn):
        async def connect(self):
            raise ConnectionLost("connection refused")

    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: Unreachable())
    monkeypatch.setattr(cli_commands, "_config", lambda args: config)
    monkeypatch.setattr("console.engine.hotfix.build_config_hotfix", lambda config, **options: check_procedure())
    args = argparse.Namespace(
        service="backend",
        env_file=None,
        set=[],
        flag_command=None,
        undo=None,
        dry_run=False,
        yes=True,
        json=True,
        config=None,
    )
    assert cli_commands.cmd_config_hotfix(args) == cli_commands.EXIT_FAILED
    assert list_incidents(config.paths.state_dir) == [] and announced == []


@pytest.mark.parametrize("minutes", ["0", "-5", "nan", "inf", "soon"])
def test_hotfix_monitor_minutes_must_be_a_positive_number(minutes, capsys):
    from console.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", "config.example.toml", "hotfix", "--tag", "v3", "--monitor-minutes", minutes])
    assert exit_info.value.code == 2
    assert "--monitor-minutes" in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["rollback"], ["rollback", "--to", "v1"], ["verify"], ["hotfix", "--tag", "v3"]])
def test_an_unreadable_release_log_is_bad_input_with_one_clear_line(tmp_path, capsys, verb):
    from console.cli.main import main

    config = tmp_path / "console.toml"
    text = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text()
    config.write_text(
        text.replace(
            'release_log = "~/.local/state/incident-console/releases.toml"', f'release_log = "{tmp_path}/releases.toml"'
        )
    )
    (tmp_path / "releases.toml").write_text('deployed = "v2"\n[[releases]\ntag =')
    assert main(["--config", str(config), *verb]) == 2
    err = capsys.readouterr().err
    assert "not valid TOML" in err and "Traceback" not in err
