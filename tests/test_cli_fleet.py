"""The CLI with a fleet config: bad host names are bad input (exit 2), nothing is contacted."""

from __future__ import annotations

import subprocess
import sys

from tests.test_fleet_config import fleet_config


def run(*args):
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=60)


def test_unlock_names_only_a_fleet_host(tmp_path):
    path = fleet_config(tmp_path)
    result = run("-c", str(path), "unlock", "--host", "web9")
    assert result.returncode == 2
    assert "--host web9: not a fleet host (hosts: web1, web2, web3)" in result.stderr


def test_check_config_accepts_a_fleet(tmp_path):
    result = run("check-config", str(fleet_config(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "fleet of 3: web1 deploy@10.0.0.1:22, web2 deploy@10.0.0.2:2200" in result.stdout
    assert "canary web2" in result.stdout and "migrations on web1" in result.stdout
