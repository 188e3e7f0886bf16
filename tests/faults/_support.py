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
    return subprocess.run([*CLI, "--config", str(config_path), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=sandbox_env(), stdin=subprocess.DEVNULL)


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
    out = subprocess.run(["ss", "-tnpH", "state", "established",
                          f"( sport = :{ssh_port} and dport = :{local_port} )"],
                         capture_output=True, text=True).stdout
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
