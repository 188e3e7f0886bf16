"""A fake fleet for screen and unit tests: three hosts on 127.0.0.1 (closed ports), web1 the
migrations host, each with its own health URL; nothing reaches beyond 127.0.0.1."""

from __future__ import annotations

import tomllib
from pathlib import Path

from _screens_support import ROOT, write_release_log
from console.config import Config, parse_config

HOSTS = ("web1", "web2", "web3")


def make_fleet_config(tmp_path: Path, health_urls: dict[str, str] | None = None) -> Config:
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["target"].pop("host", None)
    data["target"].update(
        port=9,
        identity_file=str(tmp_path / "no-key"),
        known_hosts=str(tmp_path / "known_hosts"),
        artifacts_dir="/nonexistent/artifacts",
    )
    data["registry"]["url"] = "127.0.0.1:5999"
    data.pop("notifications", None)
    data.pop("health", None)
    urls = health_urls or {h: f"http://127.0.0.1:9/{h}/health" for h in HOSTS}
    data["hosts"] = [
        {
            "name": name,
            "host": "127.0.0.1",
            "project_dir": f"/opt/fleet/{name}/mr-dj",
            "roles": ["web", "migrations"] if name == "web1" else ["web"],
            "health": [{"name": "backend", "url": urls[name], "interval": 0.2, "timeout": 2}],
        }
        for name in HOSTS
    ]
    data["fleet"] = {"canary": "web2", "batch_size": 2, "canary_pause_seconds": 0}
    data["prerequisites"] = {"backup_check_command": ["false"]}
    data["paths"] = {"state_dir": str(tmp_path / "state"), "release_log": str(tmp_path / "releases.toml")}
    write_release_log(tmp_path / "releases.toml")
    return parse_config(data, ROOT / "config.example.toml", environ={"USER": "tester"})
