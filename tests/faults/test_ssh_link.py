"""The SSH link dies mid-step: with a FIN (the sshd session killed) and silently (the session stopped).

Either way the step's outcome is UNKNOWN (the command may have run), the console reconnects and
re-checks the host before anyone decides, and `resume` completes the rollback.
"""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from console.config import Target, load_config
from console.engine.events import StepFailed, StepStarted
from console.engine.incident import IncidentRun, build_rollback, open_new_incident, rebuild_procedure
from console.engine.runner import Choice
from console.incident.journal import Journal
from console.transport.ssh import SSHTransport
from tests.conftest import ROOT
from tests.faults._support import cli, config_with, kill_stopped, signal_all, sshd_session_pids

pytestmark = pytest.mark.faults

NOTICE_WITHIN = 20.0  # seconds from a silent drop to the step's failure, with the default keepalive


class AbortOnFailure:
    async def confirm(self, step, prompt):
        return True

    async def on_failure(self, step, failure):
        return Choice("abort")


def health_versions():
    out = {}
    for port in (18081, 18082):
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5, trust_env=False)
            out[port] = answer.json().get("version")
        except httpx.HTTPError:
            out[port] = None
    return out


def test_default_keepalive_declares_a_silent_link_dead_within_20_seconds(tmp_path):
    # asyncssh gives up (count_max + 1) x interval after the last packet it received.
    default = Target(host="h")
    assert (default.keepalive_count_max + 1) * default.keepalive_interval <= NOTICE_WITHIN
    example = load_config(ROOT / "config.example.toml").target
    assert (example.keepalive_count_max + 1) * example.keepalive_interval <= NOTICE_WITHIN
    from console.transport.ssh_options import connect_options

    options = connect_options(example, None, None)
    assert (options["keepalive_interval"], options["keepalive_count_max"]) == (4.0, 3)


def test_keepalive_count_max_is_checked_by_check_config(tmp_path):
    from console.config import ConfigError

    text = (ROOT / "config.example.toml").read_text().replace("keepalive_count_max = 3", "keepalive_count_max = 0")
    path = tmp_path / "console.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "target.keepalive_count_max" in str(info.value)


def test_a_link_lost_mid_step_reconnects_and_rechecks_before_the_decision(tmp_path):
    """The engine's part, without a network: unknown outcome, reconnect, re-check, then the decider."""
    import dataclasses

    from console.engine.context import StepContext
    from console.engine.procedure import Procedure, Step
    from console.engine.runner import StepEngine
    from console.failures import FailureReason, OutcomeUnknown
    from console.incident.journal import Journal
    from console.transport.base import CommandResult
    from tests._engine_support import EXAMPLE

    order = []

    class DroppingTransport:
        description = "stand-in"

        async def run(self, argv, **kwargs):
            order.append("run")
            exc = OutcomeUnknown("connection lost during migrate; its outcome is UNKNOWN")
            exc.result = CommandResult(list(argv), None, 1.0)
            raise exc

        async def reconnect(self):
            order.append("reconnect")

    class Decider:
        async def confirm(self, step, prompt):
            return True

        async def on_failure(self, step, failure):
            order.append(("decide", failure.reason))
            return Choice("abort")

    async def recheck(step):
        order.append(("recheck", step.id))

    base = load_config(EXAMPLE)
    config = dataclasses.replace(base, paths=dataclasses.replace(base.paths, state_dir=tmp_path))
    journal = Journal.create(tmp_path)
    engine = StepEngine(
        Procedure("rollback", [Step("migrate_rollback", "Roll back migrations", argv=["migrate"])], "v2", "v1"),
        StepContext(config, DroppingTransport(), journal),
        Decider(),
        assume_yes=True,
        recheck=recheck,
    )
    assert asyncio.run(engine.run()) == "failed"
    assert order == ["run", "reconnect", ("recheck", "migrate_rollback"), ("decide", FailureReason.OUTCOME_UNKNOWN)]
    failed = [r for r in journal.records() if r.kind == "step_failed"]
    assert failed[0].reason == "outcome_unknown" and failed[0].exit_code is None


def _run_until_cut(config, step_id: str, cut):
    """Roll back in-process; ``cut(transport, loop)`` is called 2 s into ``step_id``."""
    seen = {}

    async def scenario():
        transport = SSHTransport(config.target)
        await transport.connect()
        journal = open_new_incident(config, "v2")
        procedure = build_rollback(config, None)

        def on_event(event):
            if isinstance(event, StepStarted) and event.step_id == step_id and "cut" not in seen:
                port = transport.connection.get_extra_info("sockname")[1]
                loop = asyncio.get_running_loop()

                def do_cut():
                    seen["cut"] = time.monotonic()
                    seen["pids"] = cut(port)

                loop.call_later(2.0, do_cut)
            if isinstance(event, StepFailed) and "failed" not in seen:
                seen["failed"] = time.monotonic()
                seen["failure"] = event

        run = IncidentRun(config, journal, transport, AbortOnFailure(), [on_event], assume_yes=True)
        try:
            return await run.run(procedure), journal
        finally:
            await transport.close()

    try:
        outcome, journal = asyncio.run(scenario())
    finally:
        kill_stopped(seen.get("pids", ()))
    return outcome, journal, seen


def _assert_unknown_then_resumed(config_path, config, journal, step_id):
    records = list(Journal(journal.directory).records())
    failed = [r for r in records if r.kind == "step_failed"]
    assert [(r.step_id, r.reason) for r in failed] == [(step_id, "outcome_unknown")], failed
    assert "UNKNOWN" in failed[0].message
    # reconnected and re-checked the host before the failure was decided on
    recheck = next(r for r in records if r.kind == "host_recheck")
    choice = next(r for r in records if r.kind == "step_choice")
    assert failed[0].seq < recheck.seq < choice.seq
    assert recheck.step_id == step_id and recheck.exit_code == 0 and recheck.ps

    _, done = rebuild_procedure(config, Journal(journal.directory))
    assert step_id not in done
    result = cli(config_path, "resume", journal.incident_id, "--yes")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "host state before resuming" in result.stdout
    assert health_versions() == {18081: "v1", 18082: "v1"}
    records = list(Journal(journal.directory).records())
    assert any(r.kind == "procedure_finished" and r.outcome == "succeeded" for r in records)


@pytest.mark.sandbox
def test_fin_mid_step_is_outcome_unknown_the_host_is_rechecked_and_resume_completes(fresh_sandbox, tmp_path):
    # A maintenance command that takes a few seconds, so the cut lands mid-step.
    config_path = config_with(
        fresh_sandbox,
        tmp_path,
        (
            'maintenance_on = ["npm", "run", "maintenance:on"]',
            'maintenance_on = ["sh", "-c", "sleep 5; npm run maintenance:on"]',
        ),
    )
    config = load_config(config_path)

    def fin(port):
        pids = sshd_session_pids(port)
        signal_all(pids, signal.SIGKILL)  # the kernel closes the socket: the console gets a FIN
        return pids

    outcome, journal, seen = _run_until_cut(config, "maintenance_on", fin)
    assert outcome == "failed"
    assert seen["failed"] - seen["cut"] < 5
    _assert_unknown_then_resumed(config_path, config, journal, "maintenance_on")


@pytest.mark.sandbox
def test_silent_drop_mid_migrate_rollback_is_noticed_within_20s_unknown_and_resume_completes(fresh_sandbox, tmp_path):
    # migrate:rollback that takes long enough for the link to go silent while it runs
    config_path = config_with(
        fresh_sandbox,
        tmp_path,
        (
            'migrate_rollback = ["npm", "run", "migrate:rollback", "--", "--to", "{migration}"]',
            'migrate_rollback = ["sh", "-c", "sleep 6; npm run migrate:rollback -- --to \\"$1\\"", '
            '"sh", "{migration}"]',
        ),
    )
    config = load_config(config_path)
    assert (config.target.keepalive_interval, config.target.keepalive_count_max) == (4, 3)

    def silence(port):
        pids = sshd_session_pids(port)
        signal_all(pids, signal.SIGSTOP)  # the socket stays open; nothing answers any more
        return pids

    outcome, journal, seen = _run_until_cut(config, "migrate_rollback", silence)
    assert outcome == "failed"
    took = seen["failed"] - seen["cut"]
    assert took <= NOTICE_WITHIN, f"the silent drop was noticed after {took:.1f}s"
    assert seen["failure"].reason.value == "outcome_unknown"
    _assert_unknown_then_resumed(config_path, config, journal, "migrate_rollback")
