"""Shared fixtures. Tests never read the developer's own config, ssh config or env."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests._sandbox_access import sandbox_env as sandbox_env  # the sandbox tests import it from here
from tests._sandbox_access import ssh_run

ROOT = Path(__file__).resolve().parent.parent
CTL = ROOT / "sandbox" / "ctl"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    """Keep tests away from the developer's config search path and secrets."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in ("INCIDENT_CONSOLE_CONFIG", "SLACK_WEBHOOK_URL", "STATUSPAGE_API_KEY", "SSH_AUTH_SOCK"):
        monkeypatch.delenv(name, raising=False)


def _ctl(*args: str) -> str:
    result = subprocess.run([str(CTL), *args], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"sandbox/ctl {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def sandbox_config_path() -> Path:
    """The generated console config of a running sandbox (brought up once per session)."""
    return Path(_ctl("up"))


@pytest.fixture
def fresh_sandbox(sandbox_config_path) -> Path:
    """v2 deployed again, no lock, schema at v2's head: for tests that change the stack."""
    _ctl("reset")
    yield sandbox_config_path
    _ctl("reset")


def host(config, script: str) -> subprocess.CompletedProcess:
    """Run ``script`` on the sandbox host with OpenSSH, as the operator would by hand."""
    return ssh_run(config.target, script)
