"""Bug: `unlock --force` journaled into a NEW journal without incident_opened, so home and
`incidents` listed a fake open incident and the notification context raised on it."""

import argparse

import pytest

from console.cli import commands as cli_commands
from console.engine.incident import open_new_incident
from console.engine.lock import RemoteLock
from console.incident.listing import all_incidents
from tests._screens_support import make_config


class NoHost:
    description = "stand-in"

    async def connect(self):
        pass

    async def close(self):
        pass


@pytest.fixture
def forced(monkeypatch, tmp_path):
    config = make_config(tmp_path)
    holder: dict = {}

    async def read(self):
        return dict(holder)

    async def force_release(self):
        self.held = False

    monkeypatch.setattr(RemoteLock, "read", read)
    monkeypatch.setattr(RemoteLock, "force_release", force_release)
    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: NoHost())
    monkeypatch.setattr(cli_commands, "_config", lambda args: config)
    return config, holder


def unlock() -> int:
    return cli_commands.cmd_unlock(argparse.Namespace(force=True, yes=True, config=None))


def test_force_unlock_of_an_unknown_incident_creates_no_incident(forced):
    config, holder = forced
    holder.update(holder="alice@laptop", incident_id="20990101-000000-dead", since="2099-01-01T00:00:00Z")
    assert unlock() == cli_commands.EXIT_OK
    assert all_incidents(config.paths.state_dir) == []
    log = config.paths.state_dir / "lock-log" / "journal.jsonl"
    assert "force_unlocked" in log.read_text()


def test_force_unlock_is_journaled_in_the_holders_incident_when_it_is_here(forced):
    config, holder = forced
    journal = open_new_incident(config, "v2")
    holder.update(holder="alice@laptop", incident_id=journal.incident_id, since="2099-01-01T00:00:00Z")
    assert unlock() == cli_commands.EXIT_OK
    listed = all_incidents(config.paths.state_dir)
    assert [i.id for i in listed] == [journal.incident_id]
    forced_record = [r for r in journal.records() if r.kind == "lock"][-1]
    assert forced_record.action == "force_unlocked" and forced_record.holder["holder"] == "alice@laptop"


def test_a_journal_left_by_an_older_force_unlock_is_not_listed_as_an_incident(forced):
    from console.engine.announce import incident_notifier
    from console.incident.journal import Journal

    config, _ = forced
    old = Journal.create(config.paths.state_dir)
    old.record("lock", action="force_unlocked", lock_dir="/opt/x/.lock", holder={}, by="oncall")
    assert all_incidents(config.paths.state_dir) == []
    assert incident_notifier(config, old) is None  # used to raise: no incident_opened record
