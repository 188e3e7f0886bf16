"""What the fault-injection tests share: the headless CLI, the sandbox's sshd sessions, journals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, sandbox_env

CLI = [sys.executable, "-m", "console"]


def cli(config_path, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=sandbox_env(),
        stdin=subprocess.DEVNULL,
    )


def config_with(sandbox_config: Path, tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """A copy of the sandbox's console config with some lines replaced (each must be there)."""
    text = Path(sandbox_config).read_text()
    for old, new in replacements:
        assert old in text, f"{old!r} is not in {sandbox_config}"
        text = text.replace(old, new)
    path = tmp_path / "console.toml"
    path.write_text(text)
    return path


def sshd_session_pids(local_port: int, ssh_port: int = 2222) -> set[int]:
    """The sshd processes serving the TCP connection from our ``local_port`` (the host is this machine)."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{ssh_port} and dport = :{local_port} )"],
        capture_output=True,
        text=True,
    ).stdout
    pids = {int(p) for p in re.findall(r"pid=(\d+)", out)}
    assert pids, f"no sshd process found for port {local_port}: {out!r}"
    return pids


def signal_all(pids, sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def kill_stopped(pids) -> None:
    signal_all(pids, signal.SIGKILL)


def temp_config(sandbox_config: Path, tmp_path: Path, edit=None, edit_releases=None) -> Path:
    """The sandbox config with its own state dir and a copy of the release log in ``tmp_path``;
    ``edit(data)`` and ``edit_releases(data)`` may change either TOML document in place."""
    import tomllib

    import tomli_w

    data = tomllib.loads(Path(sandbox_config).read_text())
    releases = tomllib.loads(Path(data["paths"]["release_log"]).read_text())
    if edit_releases:
        edit_releases(releases)
    copy = tmp_path / "releases.toml"
    copy.write_text(tomli_w.dumps(releases))
    data["paths"]["release_log"] = str(copy)
    data["paths"]["state_dir"] = str(tmp_path / "state")
    if edit:
        edit(data)
    path = tmp_path / "console.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def journal_records(config) -> list:
    from console.incident.journal import list_incidents

    journals = list_incidents(config.paths.state_dir)
    assert len(journals) == 1, journals
    return list(journals[0].records())
