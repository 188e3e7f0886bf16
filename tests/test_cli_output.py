"""The CLI's questions: closed input answers no, and Ctrl-C never waits for a line."""

from __future__ import annotations

import subprocess
import sys

from console.cli.output import CLIDecider
from console.engine.procedure import Step

STEP = Step("compose_down", "Stop the stack", argv=["true"], destructive=True)


def _closed_input(prompt=""):
    raise EOFError


async def test_closed_input_refuses_the_confirmation_and_aborts_after_a_failure(monkeypatch):
    monkeypatch.setattr("builtins.input", _closed_input)
    decider = CLIDecider(assume_yes=False, interactive=True)
    assert await decider.confirm(STEP, "Stop it?") is False
    assert (await decider.on_failure(STEP, None)).action == "abort"


async def test_a_skip_needs_a_reason_and_closed_input_aborts(monkeypatch):
    answers = iter(["s", ""])  # skip, then the input closes before a reason is given

    def answer(prompt=""):
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", answer)
    assert (await CLIDecider(assume_yes=False, interactive=True).on_failure(STEP, None)).action == "abort"


def test_cancelling_a_question_does_not_wait_for_the_line():
    # input() blocks forever here; the run is cancelled as Ctrl-C would; the process must end.
    script = """
import asyncio, builtins, threading
from console.cli.output import CLIDecider
from console.engine.procedure import Step
asking = threading.Event()
def blocked_input(prompt=''):
    asking.set()
    threading.Event().wait()
builtins.input = blocked_input
async def main():
    task = asyncio.create_task(CLIDecider(False, interactive=True).confirm(Step('s', 's', argv=['true']), 'go?'))
    assert await asyncio.to_thread(asking.wait, 10), 'the question was never asked'
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print('cancelled')
asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and "cancelled" in result.stdout, result.stderr
