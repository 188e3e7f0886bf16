"""Headless rollback and hotfix reach the host over one SSH connection in one event loop: the
release-log sync, the question of what the host runs and the procedure share the session's link
(every extra connection is a key exchange and an authentication before the first step)."""

from __future__ import annotations

import argparse

import pytest

from _screens_support import HostStandIn, make_config  # tests/ is on sys.path under plain `pytest` too
from console.cli import commands as cli_commands
from console.failures import ConnectionLost
from console.incident.host_mirror import MISSING_EXIT
from console.transport.base import CommandResult


class CountingHost(HostStandIn):
    """The stand-in host, counting connections (every ``connect()`` is one SSH handshake)."""

    connects = 0
    links: list[CountingHost] = []

    def __init__(self) -> None:
        super().__init__()
        CountingHost.links.append(self)

    async def connect(self) -> None:
        CountingHost.connects += 1
        await super().connect()


class HostWithoutReleaseLog(CountingHost):
    """Has no release log yet (the console seeds it) and takes the one it is sent."""

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False) -> CommandResult:
        if argv[-1].endswith("/releases.toml"):
            self.commands.append(list(argv))
            return CommandResult(list(argv), MISSING_EXIT if stdin is None else 0, 0.0, "", "")
        return await super().run(argv, timeout=timeout, on_output=on_output, stdin=stdin, capture=capture)


class NoHost(CountingHost):
    async def connect(self) -> None:
        CountingHost.connects += 1
        raise ConnectionLost("connection refused")


@pytest.fixture
def counted(monkeypatch, tmp_path):
    config = make_config(tmp_path)
    CountingHost.connects, CountingHost.links = 0, []
    monkeypatch.setattr(cli_commands, "_config", lambda args: config)

    async def quiet(*args, **kwargs):
        return None

    monkeypatch.setattr("console.engine.announce.announce", quiet)
    monkeypatch.setattr("console.engine.announce.flush", quiet)
    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: CountingHost())
    return config


def rollback_args(**overrides) -> argparse.Namespace:
    values = dict(to="v1", migration_order=None, incident=None, yes=True, dry_run=False, json=True, config=None)
    return argparse.Namespace(**{**values, **overrides})


def hotfix_args(**overrides) -> argparse.Namespace:
    values = dict(tag="v2", monitor_minutes=None, incident=None, yes=True, dry_run=False, json=True, config=None)
    return argparse.Namespace(**{**values, **overrides})


@pytest.mark.parametrize("dry_run", [False, True])
def test_rollback_opens_one_connection(counted, dry_run, capsys):
    cli_commands.cmd_rollback(rollback_args(dry_run=dry_run))
    assert CountingHost.connects == 1
    assert len(CountingHost.links) == 1
    commands = [" ".join(argv) for argv in CountingHost.links[0].commands]
    assert any("releases.toml" in c for c in commands) != dry_run  # the host's release log, on the same link
    assert any("docker inspect" in c for c in commands)  # what the host runs, on the same link


def test_hotfix_opens_one_connection(counted, capsys):
    cli_commands.cmd_hotfix(hotfix_args())
    assert CountingHost.connects == 1  # (the staging link is made too, and opened only on first use)
    assert sum(1 for link in CountingHost.links if link.commands) == 1


def test_an_unreachable_host_is_asked_once_and_fails_with_exit_1(counted, monkeypatch, capsys):
    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: NoHost())
    assert cli_commands.cmd_rollback(rollback_args()) == cli_commands.EXIT_FAILED
    err = capsys.readouterr().err
    assert "the host's shared state is not available (connection refused)" in err
    assert "cannot reach the host: connection refused" in err
    assert CountingHost.connects == 1


def test_bad_input_is_refused_with_exit_2_after_the_release_log_sync_and_before_asking_what_runs(counted, capsys):
    assert cli_commands.cmd_rollback(rollback_args(to="v1\n")) == cli_commands.EXIT_BAD_INPUT
    commands = [" ".join(argv) for link in CountingHost.links for argv in link.commands]
    assert any("releases.toml" in c for c in commands)
    assert not any("docker" in c for c in commands)  # neither what runs nor which compose


def test_bad_input_on_an_unreachable_host_is_still_exit_2(counted, monkeypatch, capsys):
    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: NoHost())
    assert cli_commands.cmd_rollback(rollback_args(to="v1\n")) == cli_commands.EXIT_BAD_INPUT


def test_an_unknown_target_is_bad_input_after_the_host_said_what_runs(counted, capsys):
    assert cli_commands.cmd_rollback(rollback_args(to="v9")) == cli_commands.EXIT_BAD_INPUT
    assert CountingHost.connects == 1


def test_the_run_does_not_pull_the_release_log_it_just_pulled(counted, monkeypatch, capsys):
    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: HostWithoutReleaseLog())
    cli_commands.cmd_rollback(rollback_args())
    sent = [argv for argv in CountingHost.links[0].commands if argv[-1].endswith("/releases.toml")]
    reads = [argv for argv in sent if "cat -- " in argv[2]]
    assert len(reads) == 1  # before choosing the target; the run itself only sends it back up
    assert len(sent) == 3  # read (none there), seed, and the push after the run
