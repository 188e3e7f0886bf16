"""The release just started fails its health checks after `up -d`.

Said at the first poll, the failing service's last log lines shown, the next decision of the
runbook offered (roll back further, or a hotfix), and the procedure never ends as done.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from console.commands.compose import ComposeCommands
from console.config import load_config
from console.engine.events import ProcedureFinished, StepFailed, StepOutput, StepStarted
from console.engine.health_failure import services_for_checks
from console.engine.incident import IncidentRun
from console.engine.procedure import Procedure, Step
from console.engine.runner import Choice
from console.engine.verification import verification_steps
from console.transport.ssh import SSHTransport
from tests.faults._support import config_with

pytestmark = pytest.mark.faults


class AbortOnFailure:
    async def confirm(self, step, prompt):
        return True

    async def on_failure(self, step, failure):
        return Choice("abort")


def test_failing_checks_map_to_their_services():
    from console.config import load_config as load
    from tests.conftest import ROOT

    config = load(ROOT / "config.example.toml")
    backend = config.backend.name
    assert services_for_checks(config, [backend]) == [backend]
    assert services_for_checks(config, ["backend"]) == [backend]  # by role
    assert services_for_checks(config, ["nothing-like-it"]) == [s.name for s in config.services]


@pytest.mark.sandbox
def test_release_failing_health_after_up_is_said_at_once_with_its_logs_and_the_next_decision(fresh_sandbox, tmp_path):
    # v2 (deployed by the reset) answers /api/health with 500; a short wait keeps the test quick
    config = load_config(config_with(fresh_sandbox, tmp_path, ("health_wait_seconds = 30", "health_wait_seconds = 6")))
    compose = ComposeCommands.for_target(config.target)
    procedure = Procedure(
        "verify",
        [Step("compose_up", "Start v2 (compose up -d)", argv=compose.up_detached(), mutating=True, timeout=600)]
        + verification_steps(config, "v2"),
        from_tag="v2",
        to_tag="v2",
    )
    timeline = []

    async def scenario():
        transport = SSHTransport(config.target)
        await transport.connect()
        try:
            run = IncidentRun(
                config, None, transport, AbortOnFailure(), [lambda e: timeline.append((time.monotonic(), e))]
            )
            return await run.run(procedure)
        finally:
            await transport.close()

    outcome = asyncio.run(scenario())
    assert outcome == "failed"
    finished = [e for _, e in timeline if isinstance(e, ProcedureFinished)]
    assert [f.outcome for f in finished] == ["failed"]  # never "done"
    started = next(t for t, e in timeline if isinstance(e, StepStarted) and e.step_id == "verify_health")
    said = next(
        t
        for t, e in timeline
        if isinstance(e, StepOutput)
        and e.step_id == "verify_health"
        and any("health is FAILING: backend" in line for line in e.lines)
    )
    poll = min(h.interval for h in config.health)
    assert said - started <= poll, f"the failure was said {said - started:.1f}s in, poll interval {poll}s"
    output = [
        line for _, e in timeline if isinstance(e, StepOutput) and e.step_id == "verify_health" for line in e.lines
    ]
    after = output[output.index("last log lines of the failing services:") + 1 :]
    assert any(line.startswith(config.backend.name) for line in after), after  # compose logs' prefix
    failed = [e for _, e in timeline if isinstance(e, StepFailed)]
    assert [f.step_id for f in failed] == ["verify_health"]
    assert "roll back further" in failed[0].message and "hotfix" in failed[0].message
