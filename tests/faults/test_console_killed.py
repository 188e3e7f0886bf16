"""The console is SIGKILLed mid-procedure: nothing of it runs any more, nothing wrote an end record.

The journal stays readable (a torn last line is tolerated), the incident lists as interrupted
rather than running, and `resume` shows the lock the dead console left (holder, machine, age)
and continues under it only with a journaled reason.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx
import pytest

from console.config import load_config
from console.incident.journal import Journal
from console.incident.listing import all_incidents, summarize
from console.incident.liveness import _start_ticks, console_alive, describe_lock, machine_name, this_console
from tests.conftest import ROOT, sandbox_env
from tests.faults._support import CLI, cli, config_with

pytestmark = pytest.mark.faults


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_liveness_of_the_console_that_started_a_procedure():
    me = this_console()
    assert console_alive(me) is True
    assert console_alive({**me, "pid": dead_pid()}) is False
    assert console_alive({**me, "pid_started": me["pid_started"] + 1}) is False  # the pid was reused
    assert console_alive({**me, "machine": machine_name() + "-elsewhere"}) is None  # cannot tell from here
    assert console_alive({}) is None and console_alive(None) is None


def test_an_incident_whose_console_is_gone_lists_as_interrupted(tmp_path):
    journal = Journal.create(tmp_path)
    journal.record("incident_opened", incident_id=journal.incident_id, target="t", deployed="v2")
    journal.record(
        "procedure_started",
        procedure="rollback",
        from_tag="v2",
        to_tag="v1",
        dry_run=False,
        **{**this_console(), "pid": dead_pid()},
    )
    journal.record("step_started", step_id="compose_down")
    assert summarize(journal).state == "interrupted"
    assert summarize(journal).resumable
    # still listed as running while its console lives, and re-read once it is gone
    alive = Journal.create(tmp_path)
    alive.record("incident_opened", incident_id=alive.incident_id, target="t", deployed="v2")
    alive.record("procedure_started", procedure="rollback", from_tag="v2", to_tag="v1", dry_run=False, **this_console())
    assert {s.id: s.state for s in all_incidents(tmp_path)}[alive.incident_id] == "running"


def test_the_lock_is_described_with_holder_machine_pid_and_age():
    since = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() - 125))
    text = describe_lock(
        "/opt/mr-dj/.incident-console.lock",
        {"holder": "oncall", "incident_id": "20261129-120000-abcd", "since": since},
        {"pid": dead_pid(), "machine": machine_name()},
    )
    assert "held by oncall on " + machine_name() in text
    assert "gone" in text and "incident 20261129-120000-abcd" in text and "taken 2 min ago" in text


def _start_rollback(config_path):
    env = {**sandbox_env(), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*CLI, "--config", str(config_path), "rollback", "--yes", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.sandbox
def test_sigkilled_console_leaves_a_readable_journal_an_interrupted_incident_and_a_lock_taken_over(
    fresh_sandbox, tmp_path
):
    config_path = config_with(
        fresh_sandbox,
        tmp_path,
        (
            'maintenance_on = ["npm", "run", "maintenance:on"]',
            'maintenance_on = ["sh", "-c", "sleep 5; npm run maintenance:on"]',
        ),
    )
    config = load_config(config_path)
    console = _start_rollback(config_path)
    incident = None
    try:
        for line in console.stdout:
            event = json.loads(line)
            incident = incident or event.get("incident_id")
            if event["event"] == "step_started" and event["step_id"] == "maintenance_on":
                time.sleep(1.5)  # mid-step, with the host lock held
                console.send_signal(signal.SIGKILL)
                break
        console.wait(10)
    finally:
        if console.poll() is None:
            console.kill()
    assert console.returncode == -signal.SIGKILL and incident

    journal = Journal(config.paths.state_dir / "incidents" / incident)
    records = list(journal.records())
    lines = journal.path.read_bytes().splitlines()
    assert len(records) == len(lines)  # every line written is a whole record
    assert records[-1].kind == "step_started" and records[-1].step_id == "maintenance_on"
    assert not any(r.kind in ("procedure_finished", "procedure_interrupted") for r in records)
    # a kill during a write leaves a torn line: simulated, since SIGKILL rarely lands mid-write
    with open(journal.path, "ab") as handle:
        handle.write(b'{"seq": 999, "type": "step_fin')

    listed = json.loads(
        next(line for line in cli(config_path, "incidents", "--json").stdout.splitlines() if incident in line)
    )
    assert listed["state"] == "interrupted"

    refused = cli(config_path, "resume", incident, "--yes")
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    shown = refused.stdout + refused.stderr
    assert f"held by {config.operator} on {machine_name()}" in shown
    assert f"console pid {console.pid}, gone" in shown and "ago" in shown
    assert "--take-over-lock REASON" in shown

    resumed = cli(config_path, "resume", incident, "--yes", "--take-over-lock", "console was killed (fault test)")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-2000:]
    records = list(Journal(journal.directory).records())
    taken = [r for r in records if r.kind == "lock" and r.action == "taken_over"]
    assert len(taken) == 1 and taken[0].reason == "console was killed (fault test)"
    assert taken[0].previous_console == {"pid": console.pid, "machine": machine_name()}
    assert any(r.kind == "note" and r.torn_file for r in records)
    assert any(r.kind == "procedure_finished" and r.outcome == "succeeded" for r in records)
    versions = {
        port: httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5, trust_env=False).json().get("version")
        for port in (18081, 18082)
    }
    assert versions == {18081: "v1", 18082: "v1"}
    assert cli(config_path, "unlock").stdout.strip() == "the host is not locked"


def test_resume_takes_over_a_dead_consoles_lock_only_with_a_reason_and_never_a_live_ones(tmp_path):
    """The take-over rules on a real lock directory (LocalTransport: this machine is the host)."""
    import asyncio
    import dataclasses

    from console.engine.lock import RemoteLock
    from console.engine.takeover import TakeOverRefused, take_over_lock_for_resume
    from console.transport.local import LocalTransport
    from tests._engine_support import EXAMPLE

    base = load_config(EXAMPLE)
    (tmp_path / "project").mkdir()
    config = dataclasses.replace(
        base,
        target=dataclasses.replace(base.target, project_dir=str(tmp_path / "project")),
        paths=dataclasses.replace(base.paths, state_dir=tmp_path / "state"),
    )
    transport = LocalTransport()
    journal = Journal.create(config.paths.state_dir)
    said = []

    async def takeover(reason, console, ask=None):
        journal.record("procedure_started", procedure="rollback", from_tag="v2", to_tag="v1", dry_run=False, **console)
        await take_over_lock_for_resume(config, transport, journal, reason, ask, said.append)

    asyncio.run(takeover(None, {**this_console(), "pid": dead_pid()}))  # not locked: nothing to do
    assert said == []
    asyncio.run(RemoteLock(transport, config.target.project_dir, "oncall", journal.incident_id).acquire())

    with pytest.raises(TakeOverRefused) as info:
        asyncio.run(takeover(None, {**this_console(), "pid": dead_pid()}))
    assert info.value.needs_reason and "held by oncall on" in said[-1] and "gone" in said[-1]

    async def typed(prompt):
        return "  killed by the OOM killer  "

    asyncio.run(takeover(None, {**this_console(), "pid": dead_pid()}, ask=typed))
    taken = [r for r in journal.records() if r.kind == "lock" and r.action == "taken_over"]
    assert [t.reason for t in taken] == ["killed by the OOM killer"] and taken[0].by == config.operator

    sleeper = subprocess.Popen(["sleep", "30"])  # another console, alive
    try:
        alive = {"pid": sleeper.pid, "pid_started": _start_ticks(sleeper.pid), "machine": machine_name()}
        with pytest.raises(TakeOverRefused) as info:
            asyncio.run(takeover("I am sure", alive))
        assert not info.value.needs_reason and "still running" in str(info.value)
    finally:
        sleeper.kill()
        sleeper.wait()
