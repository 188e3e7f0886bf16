"""On the sandbox: the host keeps every incident's journal and the release log, so a second
on-caller with the same config and an empty state dir finishes an incident whose console died."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from console.config import load_config
from console.incident import host_mirror
from console.incident import records as rec
from console.incident.journal import Journal
from tests.conftest import host, sandbox_env
from tests.test_engine_sandbox import CLI, ROOT, cli, health_versions

pytestmark = pytest.mark.sandbox


def _config_with_state(sandbox_config: Path, tmp_path: Path, name: str, release_log: Path | None = None) -> Path:
    """The sandbox's config with its own state dir (and release log) for one console."""
    state = tmp_path / name
    state.mkdir()
    text = sandbox_config.read_text()
    original = load_config(sandbox_config).paths
    text = text.replace(f'state_dir = "{original.state_dir}"', f'state_dir = "{state}"')
    text = text.replace(f'release_log = "{original.release_log}"', f'release_log = "{state / "releases.toml"}"')
    if release_log is not None:
        shutil.copy(release_log, state / "releases.toml")
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    assert load_config(path).paths.state_dir == state
    return path


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_console_killed_mid_rollback_is_finished_from_a_second_state_dir(fresh_sandbox, tmp_path):
    sandbox = load_config(fresh_sandbox)
    first = _config_with_state(fresh_sandbox, tmp_path, "first", sandbox.paths.release_log)
    second = _config_with_state(fresh_sandbox, tmp_path, "second")  # empty: no journal, no release log
    incidents = tmp_path / "first" / "incidents"

    output = open(tmp_path / "first.out", "wb")  # a pipe nobody reads could block the console
    console = subprocess.Popen(
        [*CLI, "--config", str(first), "rollback", "--yes"],
        cwd=ROOT,
        env=sandbox_env(),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def started_compose_down():
            for directory in incidents.glob("*") if incidents.is_dir() else []:
                journal = Journal(directory)
                if any(isinstance(r, rec.StepStarted) and r.step_id == "compose_down" for r in journal.records()):
                    return journal
            return None

        journal = _wait_for(started_compose_down, 300, "the rollback to reach compose_down")
        console.send_signal(signal.SIGKILL)  # the console dies mid-step: no interrupted record, no unlock
        console.wait(30)
    finally:
        if console.poll() is None:
            os.killpg(console.pid, signal.SIGKILL)
            console.wait(30)
        output.close()
    incident = journal.incident_id
    assert journal.state.ended is None

    # The host copy lags by at most the record being written; its files are private.
    remote = host_mirror.host_journal(sandbox, incident)
    listing = host(
        sandbox, f"stat -c '%a %n' {host_mirror.host_root(sandbox)} {remote} {host_mirror.host_release_log(sandbox)}"
    ).stdout.split()
    assert listing[0::2] == ["700", "600", "600"], listing
    on_host = host(sandbox, f"cat {remote}").stdout.splitlines()
    local = journal.path.read_text().splitlines()
    assert local[: len(on_host)] == on_host and len(local) - len(on_host) <= 1

    listed = cli(second, "incidents", "--json")
    assert listed.returncode == 0, listed.stderr
    items = {i["id"]: i for i in map(json.loads, listed.stdout.splitlines())}
    assert items[incident]["where"] == "host" and items[incident]["state"] == "running"

    # the dead console's lock is shown (holder, machine, age) and needs a reason to take it over
    refused = cli(second, "resume", incident, "--yes")
    assert refused.returncode == 2 and "--take-over-lock" in refused.stderr, refused.stderr
    resumed = cli(second, "resume", incident, "--yes", "--take-over-lock", "first console was SIGKILLed")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
    assert "handoff" in refused.stderr  # fetched from the host by the first attempt, journaled then
    assert health_versions() == {18081: "v1", 18082: "v1"}

    state = Journal(tmp_path / "second" / "incidents" / incident).state
    assert state.finished is not None and state.finished.outcome == "succeeded"
    handoff = state.handoffs[-1]
    assert handoff.fetched and handoff.to_operator == load_config(second).operator
    # The host has the finished journal and the release log that says v1 now.
    finished = tmp_path / "second" / "incidents" / incident / "journal.jsonl"
    assert host(sandbox, f"cat {remote}").stdout == finished.read_text()
    assert 'deployed = "v1"' in host(sandbox, f"cat {host_mirror.host_release_log(sandbox)}").stdout

    # A third on-caller, empty state dir: the report comes from the host copy.
    third = _config_with_state(fresh_sandbox, tmp_path, "third")
    report = cli(third, "report", incident)
    assert report.returncode == 0, report.stderr
    assert "Handed over from" in report.stdout and incident in report.stdout
