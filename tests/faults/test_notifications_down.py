"""Slack and the status page are down for the whole incident: the procedure runs on, every message
waits in the incident's outbox, and all of them are delivered, in order, once the services are back."""

from __future__ import annotations

import argparse
import asyncio
import time
import tomllib
from pathlib import Path

import httpx
import pytest
import tomli_w

from console.cli import commands as cli_commands
from console.commands.compose import ComposeCommands
from console.config import load_config
from console.engine.announce import flush, incident_notifier
from console.engine.procedure import Procedure, Step
from console.incident.journal import list_incidents
from console.notify.outbox import Outbox
from sandbox.mock_services import MockServices

pytestmark = [pytest.mark.faults, pytest.mark.sandbox]

SLACK_TOKEN, API_KEY = "T0FAULT/B0FAULT/webhookfault77", "sp-key-fault-secret-13"


@pytest.fixture
def services():
    mock = MockServices(api_key=API_KEY, slack_token=SLACK_TOKEN, hang_seconds=5)
    mock.start()
    yield mock
    mock.stop()


def test_slack_and_status_page_down_for_the_whole_incident(sandbox_config_path, services, tmp_path, monkeypatch):
    data = tomllib.loads(Path(sandbox_config_path).read_text())
    data["paths"]["state_dir"] = str(tmp_path / "state")
    data["notifications"] = {
        "slack": {"webhook_url": "env:SLACK_WEBHOOK_URL"},
        "statuspage": {
            "api_base": services.statuspage_api_base,
            "page_id": "mrdj",
            "api_key": "env:STATUSPAGE_API_KEY",
        },
    }
    config_path = tmp_path / "console.toml"
    config_path.write_text(tomli_w.dumps(data))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", services.slack_url(SLACK_TOKEN))
    monkeypatch.setenv("STATUSPAGE_API_KEY", API_KEY)
    config = load_config(config_path)
    # down: every request fails, the way the sandbox's shared stand-in is told to
    down = httpx.post(f"{services.base_url}/_control", json={"fail": 1_000_000, "mode": "500"}, trust_env=False)
    assert down.status_code == 200

    compose = ComposeCommands.for_target(config.target)
    # not "verify": re-running the checks is never announced; the incident's own procedures are
    procedure = Procedure(
        "host_checks",
        [
            Step("host_ps", "What runs on the host", argv=compose.ps(), read_only=True),
            Step("host_uptime", "The host is up", argv=["uptime"], read_only=True),
        ],
        from_tag="v2",
        to_tag="v2",
    )
    args = argparse.Namespace(json=True, yes=True, dry_run=False)
    started = time.monotonic()
    assert asyncio.run(cli_commands._execute(config, procedure, args)) == cli_commands.EXIT_OK
    took = time.monotonic() - started
    # each message is tried once, briefly, then left queued: the run is not held up for the outage
    assert took < 40, f"the run took {took:.0f}s with the services down"

    journal = list_incidents(config.paths.state_dir)[0]
    records = list(journal.records())
    assert [r.step_id for r in records if r.kind == "step_finished"] == ["host_ps", "host_uptime"]
    notes = [r for r in records if r.kind == "notification"]
    assert notes and not any(r.status == "sent" for r in notes)
    outbox = Outbox(journal.directory, [])
    waiting = outbox.pending()
    assert [(m.channel, m.event) for m in waiting if m.channel == "slack"] == [
        ("slack", "incident_opened"),
        ("slack", "procedure_started"),
        ("slack", "procedure_finished"),
    ]
    assert len([m for m in waiting if m.channel == "statuspage"]) == 3
    assert not any(r["status"] == 200 for r in services.requests if r["route"] in ("slack", "statuspage"))

    # back up: the next console over this incident (the TUI, a resume) delivers what waited
    assert httpx.post(f"{services.base_url}/_control", json={"fail": 0}, trust_env=False).status_code == 200

    async def later():
        await flush(incident_notifier(config, journal), seconds=60)

    asyncio.run(later())
    assert Outbox(journal.directory, []).pending() == []
    delivered = [r for r in services.requests if r["status"] in (200, 201)]
    slack = [r["body"]["text"] for r in delivered if r["route"] == "slack"]
    assert len(slack) == 3 and all(journal.incident_id in text for text in slack)
    page = [r for r in delivered if r["route"] == "statuspage"]
    assert [r["method"] for r in page] == ["POST", "PATCH", "PATCH"]  # in order: banner first
    assert len(services.incidents) == 1
    text = journal.path.read_text()
    assert SLACK_TOKEN not in text and API_KEY not in text
