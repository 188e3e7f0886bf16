"""Shared set-up for the screen tests: a config from config.example.toml, a small release log,
a fixed clock, and a stand-in for the SSH host.

Nothing here reaches beyond 127.0.0.1: the target points at a closed local port, health checks
are either off or a local server, and notifications are removed.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w
from textual.message import Message
from textual.notifications import Notify

from console.config import Config, parse_config
from console.transport.base import CommandResult

ROOT = Path(__file__).resolve().parent.parent
FIXED_NOW = datetime(2026, 3, 14, 3, 0, 0, tzinfo=UTC)
DEPLOYED_AT = FIXED_NOW - timedelta(minutes=12)


def fixed_clock() -> datetime:
    return FIXED_NOW


def write_release_log(path: Path) -> Path:
    log = {
        "deployed": "v2",
        "releases": [
            {
                "tag": "v1",
                "captured_at": "2026-03-13T10:00:00Z",
                "verified": True,
                "pushed": False,
                "deployed_at": "2026-03-13T10:05:00Z",
                "migration_head": "001_init",
                "images": {
                    "mr-dj-backend": {"digest": "sha256:" + "1" * 64},
                    "mr-dj-frontend": {"digest": "sha256:" + "2" * 64},
                },
                "files": {"v1-compose.tar.gz": "a" * 64},
            },
            {
                "tag": "v2",
                "captured_at": "2026-03-14T02:40:00Z",
                "verified": True,
                "pushed": False,
                "deployed_at": DEPLOYED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "migration_head": "002_notes",
                "images": {
                    "mr-dj-backend": {"digest": "sha256:" + "3" * 64},
                    "mr-dj-frontend": {"digest": "sha256:" + "2" * 64},
                },
                "files": {"v2-compose.tar.gz": "b" * 64},
            },
        ],
    }
    path.write_bytes(tomli_w.dumps(log).encode())
    return path


def make_config(tmp_path: Path, *, health_url: str | None = None, backup_command: list[str] | None = None) -> Config:
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["target"].update(
        host="127.0.0.1",
        port=9,
        identity_file=str(tmp_path / "no-key"),
        known_hosts=str(tmp_path / "known_hosts"),
        artifacts_dir="/nonexistent/artifacts",
    )
    data["registry"]["url"] = "127.0.0.1:5999"
    data.pop("notifications", None)
    if health_url:
        data["health"] = [
            {"name": "backend", "url": health_url, "interval": 0.2, "timeout": 2, "expect": {"status": "ok"}}
        ]
    else:
        data.pop("health", None)
    data["prerequisites"] = {"backup_check_command": backup_command or ["false"]}
    data["paths"] = {"state_dir": str(tmp_path / "state"), "release_log": str(tmp_path / "releases.toml")}
    write_release_log(tmp_path / "releases.toml")
    return parse_config(data, ROOT / "config.example.toml", environ={"USER": "tester"})


class HostStandIn:
    """Stands in for the SSH host in screen-flow tests: every command answers 'not here'.

    The real host is exercised by the sandbox tests and the end-to-end test.
    """

    description = "stand-in"

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.connected = False

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False) -> CommandResult:
        self.commands.append(list(argv))
        await asyncio.sleep(0)
        if on_output is not None:
            on_output("stderr", [f"{argv[0]}: not available on the stand-in host"])
        return CommandResult(list(argv), 2, 0.0, "", f"{argv[0]}: not available on the stand-in host")


async def wait_for(pilot, predicate, timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def keep_notifications(into: list) -> Callable[[Message], None]:
    """A ``run_test(message_hook=...)`` that keeps every notification shown, in order."""

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            into.append(message.notification)

    return hook


def records(journal, type_: str) -> list[dict]:
    return [r for r in journal.records() if r.kind == type_]
