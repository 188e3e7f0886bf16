"""A destructive step hangs past its timeout: its whole remote process group is gone afterwards."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from console.config import load_config
from console.engine.events import StepFailed
from console.engine.incident import IncidentRun
from console.engine.procedure import Procedure, Step
from console.engine.runner import Choice
from console.failures import FailureReason
from console.transport.ssh import SSHTransport
from tests.conftest import host

pytestmark = [pytest.mark.faults, pytest.mark.sandbox]


class AbortOnFailure:
    async def confirm(self, step, prompt):
        return True

    async def on_failure(self, step, failure):
        return Choice("abort")


def test_a_hung_step_is_killed_at_its_timeout_with_its_children_and_ps_shows_nothing_left(sandbox_config_path):
    config = load_config(sandbox_config_path)
    # unique durations mark this test's processes in `ps` (sleep takes no other argument)
    base = 100_000 + uuid.uuid4().int % 800_000
    sleeps = [f"sleep {base + k}" for k in range(3)]
    # a child in the background, one that ignores TERM, and the step itself blocked on them
    script = f"{sleeps[0]} & sh -c \"trap '' TERM; {sleeps[1]}\" & {sleeps[2]}; wait"
    procedure = Procedure(
        "verify", [Step("hang", "A step that hangs", argv=["sh", "-c", script], destructive=True, timeout=2)]
    )
    events = []

    async def scenario():
        transport = SSHTransport(config.target, kill_grace=2.0)
        await transport.connect()
        try:
            running = asyncio.ensure_future(
                IncidentRun(config, None, transport, AbortOnFailure(), [events.append], assume_yes=True).run(procedure)
            )
            await asyncio.sleep(1.0)
            seen = (await transport.run(["ps", "-eo", "pid,pgid,args"], capture=True)).stdout
            return await running, seen
        finally:
            await transport.close()

    outcome, during = asyncio.run(scenario())
    assert outcome == "failed"
    assert all(any(line.endswith(sleep) for line in during.splitlines()) for sleep in sleeps), during  # they ran
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert [f.reason for f in failed] == [FailureReason.STEP_TIMEOUT]
    after = host(config, "ps -eo pid,pgid,args").stdout
    assert [line for line in after.splitlines() if any(line.endswith(sleep) for sleep in sleeps)] == []
