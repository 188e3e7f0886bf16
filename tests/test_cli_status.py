"""``incident-console status`` without a host: the one 'cannot reach' line and exit 1."""

from __future__ import annotations

import argparse

from console.cli import commands as cli_commands
from console.cli.status import cmd_status
from console.failures import ConnectionLost
from tests._screens_support import HostStandIn, make_config


class NoHost(HostStandIn):
    async def connect(self):
        raise ConnectionLost("connection refused")


def test_status_on_an_unreachable_host_says_so_and_exits_1(tmp_path, monkeypatch, capsys):
    config = make_config(tmp_path)
    monkeypatch.setattr(cli_commands, "_config", lambda args: config)
    monkeypatch.setattr("console.engine.incident.make_transport", lambda config: NoHost())
    args = argparse.Namespace(config=None, json=False, no_health=True)
    assert cmd_status(args) == cli_commands.EXIT_FAILED
    out, err = capsys.readouterr()
    assert out == "" and err == "incident-console: cannot reach the host: connection refused\n"
