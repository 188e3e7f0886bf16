"""Reaching the sandbox from outside, as an operator would by hand: OpenSSH to a host, plain HTTP to a
health URL, the secrets its "source me" files export. Tests and benchmarks (bench/ puts the repository
root on sys.path) share these.

Only the config's own key and pinned known_hosts count: ``-F /dev/null`` keeps the machine's
``~/.ssh/config`` out and ``BatchMode`` makes a refused key fail instead of prompting.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "sandbox" / ".state"


def openssh_argv(target: Any, host: str | None = None, connect_timeout: int | None = None) -> list[str]:
    """``ssh ... user@host`` for ``target``, a console ``Target`` or a config file's ``[target]`` table (the
    command goes after it); ``host`` instead of the target's own (a fleet host's address)."""

    def field(name: str) -> Any:
        return target[name] if isinstance(target, Mapping) else getattr(target, name)

    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-o", f"UserKnownHostsFile={field('known_hosts')}"]
    if connect_timeout is not None:
        argv += ["-o", f"ConnectTimeout={connect_timeout}"]
    argv += ["-i", str(field("identity_file")), "-p", str(field("port"))]
    return [*argv, f"{field('user')}@{host or field('host')}"]


def ssh_run(
    target: Any, command: str, host: str | None = None, connect_timeout: int | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a shell line) on the host with OpenSSH; its output as text."""
    argv = [*openssh_argv(target, host=host, connect_timeout=connect_timeout), command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def get_json(url: str) -> tuple[int, dict]:
    """The status and JSON body of a GET, error statuses included (a failing health check answers JSON too)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def exported(env_sh: Path) -> dict[str, str]:
    """What one of the sandbox's "source me" files (``export NAME='value'`` lines) exports."""
    env = {}
    for line in env_sh.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            env[key] = value.strip("'\"")
    return env


def sandbox_env(*more: str) -> dict[str, str]:
    """This process's environment plus what ``sandbox/.state/env.sh`` (and each of ``more``, e.g.
    ``fleet-env.sh``) exports."""
    env = dict(os.environ)
    for name in ("env.sh", *more):
        if (STATE / name).exists():
            env.update(exported(STATE / name))
    return env


def check_config(path: Path, env_sh: Path) -> subprocess.CompletedProcess[str]:
    """``python -m console check-config path``, with what ``env_sh`` exports (the config's ``env:`` secrets)."""
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "console", "check-config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **exported(env_sh)},
        timeout=60,
    )
