"""One end-to-end run in a real terminal: the installed `incident-console` in tmux, driven by keys.

Home → decision tree (customer impact: yes → rollback) → prerequisites checklist
(anything still open is waived with a reason) → the live rollback, confirming each
destructive step → health shows v1 → verification → quit. The screen is read
with `tmux capture-pane` against a deadline, exactly as an operator would see it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import pytest
import tomli_w

from console.config import load_config
from console.release.release_log import ReleaseLog
from tests._waiting import wait_for_sync

ROOT = Path(__file__).resolve().parent.parent
CTL = ROOT / "sandbox" / "ctl"
CONSOLE = Path(sys.executable).parent / "incident-console"
POLL = 0.1  # seconds between two looks at the screen

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux"),
]


class Terminal:
    def __init__(self, session: str) -> None:
        self.session = session

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)

    def text(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, "-l", text], check=True)

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True, text=True)
        return result.stdout

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.session], capture_output=True).returncode == 0

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(POLL)
        raise AssertionError(f"{pattern!r} not on screen after {timeout:g}s; screen was:\n{screen}")


def selected_item(screen: str) -> str | None:
    """The checklist's detail line ("<item>: <status> · ..."): the row under the cursor; None on a group row."""
    found = re.search(r"^.*: (pending|failed|done|waived)\b.*$", screen, re.M)
    return found.group(0).strip() if found else None


def confirmation(screen: str) -> str | None:
    """The step a confirmation dialog asks about ("⚠ <title>"; the step list puts its ⚠ after titles)."""
    found = re.search(r"⚠ (\w.*?)(?: {2,}|[│┃║▌▐]|$)", screen, re.M)
    return found.group(1) if found else None


def _ctl(*args: str) -> str:
    result = subprocess.run([str(CTL), *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        f"sandbox/ctl {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    )
    return result.stdout.strip().splitlines()[-1]


def _waive_everything_open(term: Terminal, rows: int) -> None:
    """Walk every checklist row; waive whatever is still pending or failed (the sandbox has no Slack etc.)."""
    term.keys("Home")
    for _ in range(rows):
        screen = term.screen()
        if re.search(r"^ *Ready: every required item", screen, re.M):
            return
        if re.search(r": (pending|failed)\b", screen):
            term.keys("w")
            term.wait_for(r"Why waive", 10)
            term.text("sandbox e2e: not available here")
            term.keys("Enter")
            term.wait_for(r": waived\b", 10)
        before = selected_item(term.screen())
        term.keys("Down")
        try:  # the cursor moved when the detail line names another row
            wait_for_sync(lambda before=before: selected_item(term.screen()) != before, 3, "the cursor to move", POLL)
        except AssertionError:
            return  # the last row: Down had nowhere to go


def test_a_rollback_driven_from_the_keyboard_in_a_real_terminal(sandbox_config_path):
    config_path = Path(_ctl("reset"))
    config = load_config(config_path)
    assert ReleaseLog.load(config.paths.release_log).deployed == "v2"
    term, session = _start(config_path)
    try:
        _decide_check_and_roll_back(term)

        # Health: every check OK and reporting v1.
        term.wait_for(r"backend +OK .*v1", 40)
        term.wait_for(r"frontend +OK .*v1", 20)
        assert ReleaseLog.load(config.paths.release_log).deployed == "v1"

        term.keys("c")  # continue to verification
        term.wait_for(r"[Vv]erif", 15)
        term.keys("C-q")
        wait_for_sync(lambda: not term.alive(), 15, "the app to quit", POLL)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        _ctl("reset")


@pytest.mark.fleet
def test_a_fleet_rollback_driven_from_the_keyboard_in_a_real_terminal(sandbox_config_path, tmp_path):
    """The same flow on the sandbox's three-host fleet: one confirmation per wave, the host table."""
    _ctl("reset")
    config_path, log = _own_copy(
        "fleet.toml", tmp_path, fleet={"canary_pause_seconds": 2, "gate_interval_seconds": 0.5}
    )
    term, session = _start(config_path, width=160, height=48)
    try:
        term.wait_for(r"web1/backend", 30)  # home: every host's health
        confirmed = _decide_check_and_roll_back(term, waves=True)
        assert confirmed == 2, "the canary and the batch were confirmed, once each"
        screen = term.wait_for(r"web3 .*done", 30)  # the host table
        assert re.search(r"web1 .*done", screen) and re.search(r"web2 .*done", screen), screen
        assert ReleaseLog.load(log).deployed == "v1"
        term.keys("c")  # continue to verification
        term.wait_for(r"[Vv]erif", 15)
        term.keys("C-q")
        wait_for_sync(lambda: not term.alive(), 15, "the app to quit", POLL)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        _ctl("reset")


@pytest.mark.fleet
def test_a_swarm_rollback_driven_from_the_keyboard_in_a_real_terminal(sandbox_config_path, tmp_path):
    """The same flow on the sandbox's single-node swarm: stack deploy, convergence, health on v1."""
    _ctl("reset")
    config_path, log = _own_copy("swarm.toml", tmp_path)
    term, session = _start(config_path)
    try:
        _decide_check_and_roll_back(term)
        term.wait_for(r"backend +OK .*v1", 60)
        term.wait_for(r"frontend +OK .*v1", 20)
        assert ReleaseLog.load(log).deployed == "v1"
        term.keys("c")  # continue to verification
        term.wait_for(r"[Vv]erif", 15)
        term.keys("C-q")
        wait_for_sync(lambda: not term.alive(), 15, "the app to quit", POLL)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        _ctl("reset")


def _own_copy(name: str, tmp_path: Path, **tables: dict) -> tuple[Path, Path]:
    """A sandbox config (``sandbox/.state/<name>``) with its own state dir and release log copy."""
    data = tomllib.loads((ROOT / "sandbox" / ".state" / name).read_text())
    log = tmp_path / "releases.toml"
    log.write_bytes(Path(data["paths"]["release_log"]).read_bytes())
    data["paths"].update(state_dir=str(tmp_path / "state"), release_log=str(log), host_state=False)
    for table, values in tables.items():
        data.setdefault(table, {}).update(values)
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data))
    return path, log


def _start(config_path: Path, width: int = 120, height: int = 40) -> tuple[Terminal, str]:
    session = f"ic-e2e-{uuid.uuid4().hex[:8]}"
    env_sh = ROOT / "sandbox" / ".state" / "env.sh"
    command = f". {shlex.quote(str(env_sh))}; exec {shlex.quote(str(CONSOLE))} --config {shlex.quote(str(config_path))}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), "bash", "-c", command],
        check=True,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    return Terminal(session), session


def _decide_check_and_roll_back(term: Terminal, waves: bool = False) -> int:
    """Home → decision → checklist → target picker → the live rollback, each confirmation answered y."""
    term.wait_for(r"Start incident", 30)
    term.keys("s")

    # The decision tree: customer impact right now → yes → rollback.
    term.wait_for(r"Q1\.", 30)
    term.keys("y")
    term.wait_for(r"Outcome: .*[Rr]ollback", 15)
    term.keys("c")

    # The prerequisites: wait for the machine checks, then waive what only a person could do.
    term.wait_for(r"prerequisites", 15)
    # The status says "Running the automatic checks…" until they are done.
    term.wait_for(r"Ready: every required|Blocked by", 30)
    for _ in range(3):
        if re.search(r"Ready: every required", term.screen()):
            break
        _waive_everything_open(term, rows=16)
    term.wait_for(r"Ready: every required", 10)
    term.keys("p")
    # The target picker: what the host runs, the automatic choice (v1) preselected.
    term.wait_for(r"Roll back to which release\?", 30)
    term.wait_for(r"automatic choice", 5)
    term.keys("Enter")

    # The live rollback: answer each destructive step's confirmation with y.
    deadline = time.monotonic() + 240
    confirmed = 0
    screen = ""
    while time.monotonic() < deadline:
        screen = term.screen()
        if re.search(r"ROLLBACK v2 → v1 SUCCEEDED", screen):
            break
        assert not re.search(r"ROLLBACK .*(FAILED|ABORTED)", screen), screen
        if "Run it (y)" in screen:
            asked = confirmation(screen)
            assert asked, screen
            term.keys("y")
            confirmed += 1
            # answered: wait for that question to go, so it is never answered twice
            wait_for_sync(
                lambda asked=asked: confirmation(term.screen()) != asked,
                15,
                f"the confirmation of {asked!r} to close",
                POLL,
            )
        time.sleep(POLL)
    else:
        raise AssertionError(f"the rollback did not succeed in time; screen:\n{screen}")
    assert waves or confirmed >= 2, "the destructive steps were confirmed one by one"
    return confirmed
