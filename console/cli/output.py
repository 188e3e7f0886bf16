"""How the headless CLI shows engine events and asks its questions."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

from console.cli.json_lines import JSON_SCHEMA_VERSION, json_line  # noqa: F401  (re-exported)
from console.engine.events import (
    AwaitingConfirmation,
    Event,
    Notice,
    ProcedureFinished,
    ProcedureStarted,
    StepFailed,
    StepFinished,
    StepOutput,
    StepSkipped,
    StepStarted,
    WouldRun,
)
from console.engine.procedure import Step
from console.engine.runner import Choice
from console.safetext import plain_line, plain_text

MAX_SHOWN_LINE = 400


class EventPrinter:
    """Human output shows each step live; ``--json`` prints one JSON event per line."""

    def __init__(self, as_json: bool, stream=None) -> None:
        self.as_json = as_json
        self.stream = stream or sys.stdout
        self.started = time.monotonic()
        self._running: dict[str, None] = {}  # steps started and not settled, oldest first
        self._header: str | None = None  # the step whose "->" line was printed last
        self._overlap = False  # steps ran at once since nothing last ran

    def __call__(self, event: Event) -> None:
        if self.as_json:
            self.stream.write(json_line(event.to_dict()) + "\n")
            self.stream.flush()
            return
        line = self.human(event)
        if line is not None:
            self.stream.write(line + "\n")
            self.stream.flush()

    def human(self, event: Event) -> str | None:
        if isinstance(event, (StepStarted, StepOutput, StepFinished, StepFailed, StepSkipped)):
            # Steps run together (console.engine.together) interleave: while more than one runs, or
            # when a line is not the last header's, each line names its step.
            if isinstance(event, StepStarted):
                self._overlap = self._overlap or bool(self._running)
                self._running[event.step_id] = None
                self._header = event.step_id
            other = self._header is not None and event.step_id != self._header
            tag = f"[{event.step_id}] " if self._overlap or other else ""
            if not isinstance(event, (StepStarted, StepOutput)):
                self._running.pop(event.step_id, None)
                self._overlap = self._overlap and bool(self._running)
            return self._step_line(event, tag)
        if isinstance(event, ProcedureStarted):
            tags = f" {event.from_tag or '?'} -> {event.to_tag}" if event.to_tag else ""
            mode = " (DRY RUN: nothing will be changed)" if event.dry_run else ""
            return f"== {event.procedure}{tags}, incident {event.incident_id or '-'}{mode}"
        if isinstance(event, WouldRun):
            mark = " [destructive]" if event.destructive else ""
            return f"would run {event.step_id}: {event.title}{mark}\n   $ {event.command}"
        if isinstance(event, AwaitingConfirmation):
            return None
        if isinstance(event, Notice):
            return f"[{event.level}] {event.message}"
        if isinstance(event, ProcedureFinished):
            return f"== {event.procedure} {event.outcome.upper()} after {event.duration:.1f}s"
        return None

    @staticmethod
    def _step_line(event: Event, tag: str) -> str:
        if isinstance(event, StepStarted):
            return f"-> {event.step_id}: {event.title}\n   $ {event.command}"
        if isinstance(event, StepOutput):
            prefix = f"   {tag}| " if event.stream == "stdout" else f"   {tag}! "
            # Host output is data: printed raw, an escape sequence would drive the operator's terminal.
            return "\n".join(prefix + plain_line(line)[:MAX_SHOWN_LINE] for line in event.lines)
        if isinstance(event, StepFinished):
            summary = f" {event.summary}" if event.summary else ""
            return f"   {tag}ok ({event.duration:.1f}s){summary}"
        if isinstance(event, StepFailed):
            code = "" if event.exit_code is None else f", exit {event.exit_code}"
            return f"   {tag}FAILED [{event.reason_label}{code}] {plain_text(event.message)}"
        assert isinstance(event, StepSkipped)
        return f"-- {event.step_id}: skipped ({event.reason})"


class CLIDecider:
    """Asks on the terminal when one is attached; otherwise follows --yes or stops safely."""

    def __init__(self, assume_yes: bool, interactive: bool | None = None) -> None:
        self.assume_yes = assume_yes
        self.interactive = sys.stdin.isatty() if interactive is None else interactive

    async def _ask(self, prompt: str) -> str:
        """One line from the terminal; "" once input is closed (every caller reads that as no).

        ``input()`` runs in a daemon thread of its own, not the executor: Ctrl-C must end the
        run after the engine has cleaned up, without waiting for a line nobody will type."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def settle(value: str) -> None:
            if not answer.done():
                answer.set_result(value)

        def read() -> None:
            try:
                line = input(prompt)
            except (EOFError, OSError, ValueError):
                line = "\x04"  # closed input: answered as "no" / "abort" below
            loop.call_soon_threadsafe(settle, line)

        threading.Thread(target=read, name="cli-prompt", daemon=True).start()
        return (await answer).strip()

    async def confirm(self, step: Step, prompt: str) -> bool:
        if self.assume_yes:
            return True
        if not self.interactive:
            print(
                f"refusing {step.id} without confirmation: pass --yes to run destructive steps non-interactively",
                file=sys.stderr,
            )
            return False
        answer = await self._ask(f"{prompt}\nProceed? [y/N] ")
        return answer.lower() in ("y", "yes")

    async def confirm_optional(self, step: Step, prompt: str) -> Choice:
        """An optional step (the runbook says so): run it, skip it with a reason, or stop."""
        if self.assume_yes:
            return Choice("run")
        if not self.interactive:
            print(
                f"refusing {step.id} without confirmation: pass --yes to run destructive steps non-interactively",
                file=sys.stderr,
            )
            return Choice("abort")
        while True:
            answer = (await self._ask(f"{prompt}\n[y] run it, [s] skip it with a reason, [N] stop here? ")).lower()
            if answer in ("y", "yes"):
                return Choice("run")
            if answer in ("s", "skip"):
                reason = await self._ask("Reason for skipping (recorded in the journal and the report): ")
                if reason == "\x04":
                    return Choice("abort")
                if reason:
                    return Choice("skip", reason)
                print("a skip needs a reason", file=sys.stderr)
                continue
            return Choice("abort")

    async def on_failure(self, step: Step, failure) -> Choice:
        if not self.interactive:
            return Choice("abort")
        while True:
            answer = (await self._ask(f"{step.id} failed: [r]etry, [s]kip with a reason, [a]bort? ")).lower()
            if answer in ("r", "retry"):
                return Choice("retry")
            if answer in ("a", "abort", "\x04"):
                return Choice("abort")
            if answer in ("s", "skip"):
                reason = await self._ask("Reason for skipping (recorded in the journal): ")
                if reason == "\x04":
                    return Choice("abort")
                if reason:
                    return Choice("skip", reason)
