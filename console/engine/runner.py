"""Runs a procedure step by step, asking the decider where a person must decide.

The runner owns the order of things: confirmation before destructive steps, the
remote lock before the first mutating step, retry/skip/abort after a failure,
and releasing the lock however the run ends (success, failure, abort, Ctrl-C).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from console.engine.context import StepContext
from console.engine.events import (
    AwaitingConfirmation,
    Event,
    LockEvent,
    Notice,
    ProcedureFinished,
    ProcedureInterrupted,
    ProcedureStarted,
    StepChoice,
    StepConfirmed,
    StepFailed,
    StepFinished,
    StepOutput,
    StepSkipped,
    StepStarted,
    WouldRun,
)
from console.engine.lock import LockError, LockHeld, RemoteLock
from console.engine.procedure import SKIPPED_OPTIONAL, ActionResult, Procedure, Step
from console.engine.together import check_procedure, runs
from console.failures import CommandTimeout, FailureReason, PreconditionFailed, TransportError
from console.incident.liveness import this_console
from console.safetext import plain_line
from console.validate import UnsafeValue

OUTPUT_KEEP_BYTES = 8 * 1024 * 1024  # full output side file is capped so a flood cannot fill the disk


@dataclass(frozen=True)
class Choice:
    action: str  # retry | skip | abort
    reason: str = ""


class Decider(Protocol):
    """Where a person decides: the TUI shows dialogs, the CLI prompts or follows --yes."""

    async def confirm(self, step: Step, prompt: str) -> bool: ...

    async def on_failure(self, step: Step, failure: StepFailed) -> Choice: ...

    # A step the runbook marks optional (``step.optional``) is confirmed with
    # ``confirm_optional(step, prompt) -> Choice("run" | "skip" | "abort", reason)`` when the
    # decider has it: skipping it there, with a reason, is an answer and not a failure.


class AbortProcedure(Exception):
    pass


class StepEngine:
    def __init__(
        self,
        procedure: Procedure,
        context: StepContext,
        decider: Decider,
        *,
        assume_yes: bool = False,
        lock: RemoteLock | None = None,
        done_steps: set[str] | None = None,
        listeners: list[Callable[[Event], None]] | None = None,
        recheck: Callable[[Step], Awaitable[None]] | None = None,
    ) -> None:
        check_procedure(procedure.steps)  # a field set after construction is checked here
        self.procedure = procedure
        self.ctx = context
        self.decider = decider
        self.assume_yes = assume_yes
        self.lock = lock
        self.done_steps = set(done_steps or ())
        self.listeners = list(listeners or [])
        self.recheck = recheck  # looks at (and journals) the host after a step's outcome went UNKNOWN
        self.statuses: dict[str, str] = {s.id: "pending" for s in procedure.steps}
        self._started: set[str] = set()  # steps whose command this run started

    # -- events -------------------------------------------------------------
    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def _record(self, record: Event, *, emit: bool = True) -> Event:
        """Journal ``record`` (not in a dry run) and emit the same object: one vocabulary."""
        record = self.ctx.record(record)
        if emit:
            self.emit(record)
        return record

    # -- the run ------------------------------------------------------------
    async def run(self) -> str:
        """Run the procedure; return succeeded | failed | aborted.

        Cancelling the run (Ctrl-C, quitting, leaving the procedure screen) is not an
        outcome: the procedure stopped part-way and is resumed from the journal, so it
        is journaled as ``procedure_interrupted``, never as ``procedure_finished``.
        """
        proc = self.procedure
        started = time.monotonic()
        incident_id = self.ctx.journal.incident_id if self.ctx.journal else ""
        # pid + machine (this_console): a SIGKILLed console is told from a running one
        self._record(
            ProcedureStarted(
                proc.name,
                incident_id,
                [s.describe() for s in proc.steps],
                proc.from_tag,
                proc.to_tag,
                self.ctx.dry_run,
                options=proc.options,
                resumed=bool(self.done_steps),
                **this_console(),
            )
        )
        outcome = "failed"
        try:
            outcome = await self._run_steps()
        except AbortProcedure:
            outcome = "aborted"
        except asyncio.CancelledError:
            await self._release_lock()
            self._interrupted(started)
            raise
        except Exception as exc:
            # A bug or a failure nobody foresaw: the run still ends in the journal (and the lock
            # is freed), or Home would list the incident as running for ever.
            await self._release_lock()
            self._finish("failed", started, error=f"{type(exc).__name__}: {exc}")
            raise
        await self._release_lock()
        self._finish(outcome, started)
        return outcome

    def _finish(self, outcome: str, started: float, error: str | None = None) -> None:
        proc = self.procedure
        duration = round(time.monotonic() - started, 3)
        self._record(ProcedureFinished(proc.name, outcome, duration, proc.from_tag, proc.to_tag, error))

    def _interrupted(self, started: float) -> None:
        proc = self.procedure
        duration = round(time.monotonic() - started, 3)
        mine = {s.id for s in proc.steps}
        current = [s for s, state in self.statuses.items() if state in ("running", "confirm") and s in mine]
        step_id = current[0] if current else None
        # A cancelled command whose process group was never reported may still run on the host:
        # say so rather than let the record read as if it had stopped (steps run together: each one's).
        transports: list[object] = []
        for step in proc.steps:
            if step.id in current and step.id in self._started:
                transport = self.ctx.on(step.host).transport
                if all(transport is not t for t in transports):
                    transports.append(transport)
        left = "; ".join(filter(None, (getattr(t, "left_running", None) for t in transports))) or None
        if left:
            self.emit(
                Notice(
                    f"{left} may still be running on the host: its process group was never "
                    "reported, so it could not be killed; check with ps before resuming",
                    "error",
                )
            )
        self._record(
            ProcedureInterrupted(
                procedure=proc.name,
                duration=duration,
                from_tag=proc.from_tag,
                to_tag=proc.to_tag,
                step_id=step_id,
                message="procedure interrupted (Ctrl-C, quit or left); it can be resumed",
                remote_may_still_run=left or None,
                running_together=current if len(current) > 1 else None,
            )
        )

    async def _release_lock(self) -> None:
        if self.lock is None or not self.lock.held:
            return
        try:
            await self.lock.release()
            self._record(LockEvent("released", self.lock.lock_dir), emit=False)
        except Exception as exc:  # the host may be unreachable; say what is left behind
            message = (
                f"could not release the lock {self.lock.lock_dir}: {exc}; "
                f"it names incident {self.lock.incident_id}; "
                "run `incident-console unlock` once the host is back"
            )
            self._record(LockEvent("release_failed", self.lock.lock_dir, error=str(exc)), emit=False)
            self.emit(Notice(message, "error"))

    async def _run_steps(self) -> str:
        for run in runs(self.procedure.steps):
            todo = [step for step in run if self._to_run(step)]
            if not todo:
                continue
            settled = await (self._run_together(todo) if len(todo) > 1 else self._run_until_settled(todo[0]))
            if not settled:
                return "failed"
        return "succeeded"

    def _to_run(self, step: Step) -> bool:
        """False when ``step`` is settled without running: done before a resume, skipped by its
        ``when``, or only shown in a dry run."""
        if step.id in self.done_steps:
            self.statuses[step.id] = "done"
            self.emit(StepSkipped(step.id, "already done before the resume"))
            return False
        if step.when is not None:
            reason = step.when(self.ctx)
            if reason:
                self.statuses[step.id] = "skipped"
                self._record(StepSkipped(step.id, reason, "console"))
                return False
        if self.ctx.dry_run and not step.preflight:
            self.statuses[step.id] = "would_run"
            self.emit(WouldRun(step.id, step.title, step.command, step.destructive))
            return False
        return True

    async def _run_together(self, steps: list[Step]) -> bool:
        """Read-only steps (console.engine.together) started at once; once every one has ended,
        their failures are decided in step order, as one step's would be (a retry reruns that
        step alone). Cancelled, every one still running is cancelled and waited for."""
        tasks = [asyncio.ensure_future(self._attempt(step)) for step in steps]
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        errors = [task.exception() for task in tasks]  # a bug in one: raised as a lone step's would be
        first = next((error for error in errors if error is not None), None)
        if first is not None:
            raise first
        for step, task in zip(steps, tasks, strict=True):
            if not await self._settle(step, task.result()):
                return False
        return True

    async def _run_until_settled(self, step: Step) -> bool:
        """Run one step, with retries, until it succeeds, is skipped, or the run stops."""
        if step.destructive and not self.assume_yes and not self.ctx.dry_run:
            self.statuses[step.id] = "confirm"
            prompt = f"{step.title}: this changes the host.\n  {step.command}"
            if step.preview is not None:
                preview = step.preview(self.ctx)
                prompt += f"\n{preview}" if preview else ""
            if step.optional:
                prompt += f"\nOptional: {step.optional}"
            self.emit(AwaitingConfirmation(step.id, prompt))
            confirm_optional = getattr(self.decider, "confirm_optional", None)
            if step.optional and confirm_optional is not None:
                return await self._optional_answer(step, await confirm_optional(step, prompt))
            if not await self.decider.confirm(step, prompt):
                self._record(StepConfirmed(step.id, False, self.ctx.operator), emit=False)
                raise AbortProcedure()
            self._record(StepConfirmed(step.id, True, self.ctx.operator), emit=False)
        return await self._run_confirmed(step)

    async def _run_confirmed(self, step: Step) -> bool:
        if step.mutating and self.lock is not None and not self.lock.held:
            if not await self._take_lock():
                return False
        return await self._settle(step, await self._attempt(step))

    async def _settle(self, step: Step, failure: StepFailed | None) -> bool:
        """After an attempt: done, or the decider's retry (until it succeeds), skip or abort."""
        while True:
            if failure is None:
                return True
            if failure.reason is FailureReason.OUTCOME_UNKNOWN:
                await self._after_unknown_outcome(step)
            choice = await self.decider.on_failure(step, failure)
            self._record(StepChoice(step.id, choice.action, choice.reason, self.ctx.operator), emit=False)
            if choice.action == "retry":
                await self._reconnect_if_needed(step, failure)
                failure = await self._attempt(step)
                continue
            if choice.action == "skip":
                if step.skip_needs_reason and not choice.reason.strip():
                    self.emit(Notice(f"skipping {step.id} needs a reason; stopping instead", "error"))
                    return False
                self.statuses[step.id] = "skipped"
                self._record(StepSkipped(step.id, choice.reason, self.ctx.operator))
                return True
            return False  # abort after a failure: the procedure failed at this step

    async def _optional_answer(self, step: Step, choice: Choice) -> bool:
        if choice.action == "skip" and choice.reason.strip():
            self.statuses[step.id] = "skipped"
            self.ctx.state.setdefault(SKIPPED_OPTIONAL, set()).add(step.id)
            self._record(StepSkipped(step.id, choice.reason, self.ctx.operator, optional=True))
            return True
        if choice.action != "run":
            self._record(StepConfirmed(step.id, False, self.ctx.operator), emit=False)
            raise AbortProcedure()
        self._record(StepConfirmed(step.id, True, self.ctx.operator), emit=False)
        return await self._run_confirmed(step)

    async def _take_lock(self) -> bool:
        assert self.lock is not None
        try:
            await self.lock.acquire()
        except LockHeld as held:
            self._record(LockEvent("refused", self.lock.lock_dir, holder=held.info), emit=False)
            self.emit(Notice(str(held), "error"))
            return False
        except (LockError, TransportError) as exc:  # e.g. mkdir refused: a setup problem, not a holder
            self._record(LockEvent("failed", self.lock.lock_dir, error=str(exc)), emit=False)
            self.emit(Notice(f"could not take the lock: {exc}", "error"))
            return False
        self._record(LockEvent("acquired", self.lock.lock_dir), emit=False)
        self.emit(Notice(f"lock taken: {self.lock.lock_dir}"))
        return True

    async def _after_unknown_outcome(self, step: Step) -> None:
        """The link died mid-step: reconnect now and show the host's state before anyone decides,
        since a retry could run the command twice."""
        transport = self.ctx.on(step.host).transport
        reconnect = getattr(transport, "reconnect", None)
        try:
            if reconnect is not None:
                self.emit(Notice("the link died mid-step; reconnecting to re-check the host...", "warning"))
                await reconnect()
            if self.recheck is not None:
                await self.recheck(step)
        except TransportError as exc:
            self.emit(Notice(f"could not re-check the host: {exc}", "error"))

    async def _reconnect_if_needed(self, step: Step, failure: StepFailed) -> None:
        if failure.reason in (FailureReason.CONNECTION_LOST, FailureReason.CONNECTION_TIMEOUT):
            reconnect = getattr(self.ctx.on(step.host).transport, "reconnect", None)
            if reconnect is not None:
                self.emit(Notice("reconnecting to the host...", "warning"))
                try:
                    await reconnect()
                except TransportError as exc:
                    self.emit(Notice(f"reconnect failed: {exc}", "error"))

    async def _attempt(self, step: Step) -> StepFailed | None:
        self.statuses[step.id] = "running"
        self._started.add(step.id)
        self._record(StepStarted(step.id, step.title, step.command, step.destructive, step.argv, step.host))
        output = _OutputSink()

        def on_output(stream: str, lines: list[str]) -> None:
            output.add(stream, lines)
            self.emit(StepOutput(step.id, stream, lines))

        started = time.monotonic()
        exit_code: int | None = None
        detail: dict = {}
        try:
            # its own copy of the context (the same config, link, journal and state): steps that
            # run together never write into each other's output
            ctx = replace(self.ctx.on(step.host), emit_output=on_output)
            if step.argv is not None:
                timeout = step.timeout or ctx.config.target.command_timeout
                result = await ctx.transport.run(step.argv, timeout=timeout, on_output=on_output, stdin=step.stdin)
                exit_code = result.exit_status
                if exit_code is None:
                    raise _Unknown()
                ok, message = exit_code == 0, f"exit {exit_code}"
            else:
                assert step.action is not None
                action_result: ActionResult = await step.action(ctx)
                ok, message, detail = action_result.ok, action_result.message, action_result.detail
                exit_code = 0 if ok else 1
                if message:
                    on_output("stdout", [message])
        except _Unknown:
            return self._failed(
                step,
                FailureReason.OUTCOME_UNKNOWN,
                "the connection died before the command reported its exit status: "
                "the outcome is UNKNOWN; the host is re-checked before any retry",
                None,
                started,
                output,
            )
        except CommandTimeout as exc:
            return self._failed(step, FailureReason.STEP_TIMEOUT, str(exc), None, started, output)
        except TransportError as exc:
            return self._failed(step, exc.reason, str(exc), None, started, output)
        except (PreconditionFailed, UnsafeValue) as exc:
            return self._failed(step, FailureReason.PRECONDITION, str(exc), None, started, output)
        except Exception as exc:
            # e.g. a parser meeting output it never saw: this step failed, the procedure did not;
            # the operator gets the usual retry / skip / abort.
            return self._failed(
                step, FailureReason.INTERNAL_ERROR, internal_error_message(step, exc), None, started, output
            )
        duration = round(time.monotonic() - started, 3)
        if not ok:
            reason = FailureReason.NON_ZERO_EXIT if step.argv is not None else FailureReason.PRECONDITION
            return self._failed(
                step,
                reason,
                message if step.argv is None else f"exited with {exit_code}",
                exit_code,
                started,
                output,
                detail,
            )
        rel, digest = self._store_output(step, output)
        self.statuses[step.id] = "done"
        self._record(
            StepFinished(step.id, exit_code, duration, message if step.argv is None else "", rel, digest, detail)
        )
        return None

    def _failed(
        self,
        step: Step,
        reason: FailureReason,
        message: str,
        exit_code: int | None,
        started: float,
        output: _OutputSink,
        detail: dict | None = None,
    ) -> StepFailed:
        duration = round(time.monotonic() - started, 3)
        rel, digest = self._store_output(step, output)
        self.statuses[step.id] = "failed"
        failure = StepFailed(step.id, reason, message, exit_code, duration, rel, digest, detail or {})
        self._record(failure)
        return failure

    def _store_output(self, step: Step, output: _OutputSink) -> tuple[str | None, str]:
        data = output.data()
        if self.ctx.journal is None or self.ctx.dry_run:
            return None, hashlib.sha256(data).hexdigest()
        return self.ctx.journal.write_output(step.id, data)


class _Unknown(Exception):
    pass


def internal_error_message(step: Step, exc: Exception) -> str:
    """What went wrong, where, without anything secret: a step fed values on stdin (a config
    hotfix) never has its exception text shown, as it may quote them."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
    text = "" if step.stdin else plain_line(str(exc))[:200]
    return (
        f"internal error in the console ({type(exc).__name__}{where}){': ' + text if text else ''}; "
        "the host may need checking by hand before a retry"
    )


class _OutputSink:
    """Keeps a step's output for its side file, bounded."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, stream: str, lines: list[str]) -> None:
        if self.size > OUTPUT_KEEP_BYTES:
            self.truncated = True
            return
        prefix = "" if stream == "stdout" else "[stderr] "
        chunk = "".join(f"{prefix}{line}\n" for line in lines).encode("utf-8", "replace")
        self.parts.append(chunk)
        self.size += len(chunk)

    def data(self) -> bytes:
        tail = b"[output truncated]\n" if self.truncated else b""
        return b"".join(self.parts) + tail
