"""A rolling rollout over a fleet: every host's copy of the procedure, wave by wave.

1. Preflight on every host at once (the link, artifacts and checksums, images, the schema): one
   failure refuses the run with nothing changed anywhere.
2. The lock on every host, taken in a fixed order (by name), or on none: a host that refuses frees
   the ones already taken.
3. The canary alone, then a health-gated pause (its checks must pass for the whole pause), then the
   other hosts in batches run in parallel, the migrations host in the last one.
4. The first failure stops the rollout: no further wave starts, the hosts not reached stay as they
   were, and the journal (``fleet_host`` records) says which host is in which state.

Each host runs through its own :class:`StepEngine` (the single-host rules: retry, skip with a reason,
outcome UNKNOWN after a cut link, host re-check), sharing this run's journal, listeners and statuses.
A person confirms each wave once instead of every step of every host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from console.engine.context import StepContext
from console.engine.events import AwaitingConfirmation, LockEvent, Notice
from console.engine.fleet_procedure import hosts_of
from console.engine.lock import LockError, LockHeld, RemoteLock
from console.engine.procedure import Procedure, Step
from console.engine.runner import AbortProcedure, Choice, Decider, StepEngine
from console.failures import TransportError
from console.http_clients import async_client
from console.incident.records import FleetHostState, FleetWave, StepConfirmed, StepFailed
from console.live.health import check_all

TakeOver = Callable[[StepContext], Awaitable[None]]


class _OneAtATime:
    """Parallel hosts ask a person one question at a time."""

    def __init__(self, decider: Decider) -> None:
        self.decider = decider
        self._turn = asyncio.Lock()

    async def confirm(self, step: Step, prompt: str) -> bool:
        async with self._turn:
            return await self.decider.confirm(step, prompt)

    async def on_failure(self, step: Step, failure: StepFailed) -> Choice:
        async with self._turn:
            return await self.decider.on_failure(step, failure)


class FleetEngine(StepEngine):
    """``context`` is aimed at the fleet (``fleet_transports`` has every host's link)."""

    def __init__(self, procedure: Procedure, context: StepContext, decider: Decider, **options) -> None:
        self.take_over: TakeOver | None = options.pop("take_over", None)
        super().__init__(procedure, context, decider, **options)
        self.one_at_a_time = _OneAtATime(decider)
        self.by_host = hosts_of(procedure)
        fleet = procedure.options.get("fleet") or {}
        self.waves: list[list[str]] = [list(w) for w in fleet.get("waves") or []]
        self.locks: dict[str, RemoteLock] = {}
        self.host_states: dict[str, str] = {}
        self.release_of: dict[str, str | None] = {}

    # -- the rollout ----------------------------------------------------------------------------
    async def run(self) -> str:
        """A resume first looks at every host and decides about each lock a dead console of this
        incident left (raising TakeOverRefused before anything is journaled as started)."""
        if self.take_over is not None and not self.ctx.dry_run:
            for host in sorted(h for wave in self.waves for h in wave):
                await self.take_over(self.ctx.on(host))
        return await super().run()

    async def _run_steps(self) -> str:
        proc = self.procedure
        hosts = [h for wave in self.waves for h in wave]
        for host in hosts:
            self.release_of[host] = proc.from_tag
        if not any(s.mutating for s in proc.steps):  # verification: every host at once, no lock
            return await self._all_at_once(hosts)
        preflight = {h: self._leading_preflight(h) for h in hosts}
        self._wave("preflight", 0, hosts, "started")
        results = await asyncio.gather(*(self._run_host(h, preflight[h]) for h in hosts), return_exceptions=True)
        failed = [h for h, ok in zip(hosts, results, strict=True) if ok is not True]
        for host, ok in zip(hosts, results, strict=True):
            if isinstance(ok, BaseException) and not isinstance(ok, Exception):
                raise ok  # cancellation: the run is interrupted, not failed
            self._host_state(host, "preflight_ok" if ok is True else "failed", message=_why(ok))
        if failed:
            self._wave("preflight", 0, hosts, "failed", f"preflight failed on {', '.join(failed)}: nothing was changed")
            for host in hosts:
                if host not in failed:
                    self._host_state(host, "untouched", release=proc.from_tag)
            self._summary()
            return "failed"
        self._wave("preflight", 0, hosts, "passed")
        staging = self.by_host.get("staging", [])
        if self.ctx.dry_run:
            for host in ["staging"] * bool(staging) + hosts:
                await self._run_host(host, [s for s in self.by_host[host] if s not in preflight.get(host, [])])
            return "succeeded"
        if not await self._lock_all(hosts):
            return "failed"
        if staging and not await self._run_host("staging", staging):
            self._summary(stopped_before=hosts)
            return "failed"
        has_canary = bool((self.procedure.options.get("fleet") or {}).get("canary"))
        for index, wave in enumerate(self.waves):
            kind = "canary" if index == 0 and has_canary else "batch"
            todo = {h: [s for s in self.by_host[h] if s not in preflight[h]] for h in wave}
            if not self.assume_yes and any(self._changes_left(steps) for steps in todo.values()):
                await self._confirm_wave(kind, index, wave, todo)
            self._wave(kind, index, wave, "started")
            for host in wave:
                self._host_state(host, "running")
            outcomes = await asyncio.gather(*(self._run_host(h, todo[h]) for h in wave), return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                    raise outcome
            broken = []
            for host, ok in zip(wave, outcomes, strict=True):
                if ok is True:
                    self._host_state(host, "done", release=proc.to_tag)
                else:
                    broken.append(host)
                    self._host_state(host, "failed", step_id=self._failed_step(host), message=_why(ok))
            later = [h for w in self.waves[index + 1 :] for h in w]
            if broken:
                self._wave(kind, index, wave, "failed", f"{', '.join(broken)} failed: the rollout stopped")
                self._summary(stopped_before=later)
                return "failed"
            self._wave(kind, index, wave, "passed")
            if kind == "canary" and later and not await self._gate(wave[0]):
                self._summary(stopped_before=later)
                return "failed"
        self._summary()
        return "succeeded"

    async def _all_at_once(self, hosts: list[str]) -> str:
        outcomes = await asyncio.gather(*(self._run_host(h, self.by_host[h]) for h in hosts), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
        failed = [h for h, ok in zip(hosts, outcomes, strict=True) if ok is not True]
        if failed:
            self.emit(Notice(f"failed on {', '.join(failed)}", "error"))
        return "failed" if failed else "succeeded"

    def _leading_preflight(self, host: str) -> list[Step]:
        steps = []
        for step in self.by_host.get(host, []):
            if not step.preflight:
                break
            steps.append(step)
        return steps

    @staticmethod
    def _changes_left(steps: list[Step]) -> bool:
        return any(s.mutating for s in steps)

    async def _run_host(self, host: str, steps: list[Step]) -> bool:
        """One host's steps through a StepEngine of its own (same journal, listeners, statuses)."""
        if not steps:
            return True
        sub = StepEngine(
            Procedure(self.procedure.name, steps, self.procedure.from_tag, self.procedure.to_tag),
            self.ctx.on(host),
            self.one_at_a_time,
            assume_yes=True,  # each wave was confirmed as a whole
            done_steps=self.done_steps,
            listeners=self.listeners,
            recheck=self.recheck,
        )
        sub.statuses = self.statuses
        sub._started = self._started
        try:
            return await sub._run_steps() == "succeeded"
        except AbortProcedure:
            return False

    def _failed_step(self, host: str) -> str | None:
        return next((s.id for s in self.by_host.get(host, []) if self.statuses.get(s.id) == "failed"), None)

    async def _confirm_wave(self, kind: str, index: int, wave: list[str], todo: dict[str, list[Step]]) -> None:
        names = ", ".join(wave)
        first = next(s for steps in todo.values() for s in steps)
        changes = sorted({s.title for steps in todo.values() for s in steps if s.destructive})
        prompt = (
            f"{'Canary' if kind == 'canary' else 'Batch'}: {self.procedure.name} on {names} "
            f"({self.procedure.from_tag or '?'} -> {self.procedure.to_tag}).\n  "
            + "\n  ".join(changes or ["no destructive step left"])
        )
        self.emit(AwaitingConfirmation(first.id, prompt))
        if not await self.one_at_a_time.confirm(first, prompt):
            self._record(StepConfirmed(first.id, False, self.ctx.operator), emit=False)
            self._wave(kind, index, wave, "stopped", "not confirmed")
            self._summary(stopped_before=[h for w in self.waves[index:] for h in w])
            raise AbortProcedure()
        self._record(StepConfirmed(first.id, True, self.ctx.operator), emit=False)

    # -- locks ----------------------------------------------------------------------------------
    async def _lock_all(self, hosts: list[str]) -> bool:
        """Every host's lock, in name order, or none."""
        self._wave("lock", 0, sorted(hosts), "started")
        for host in sorted(hosts):
            ctx = self.ctx.on(host)
            lock = RemoteLock(ctx.transport, ctx.config.target.project_dir, self.ctx.operator, self._incident_id())
            try:
                await lock.acquire()  # our own lock (a resume, taken over above) is ours again
            except LockHeld as held:
                self._record(LockEvent("refused", lock.lock_dir, holder=held.info, host=host), emit=False)
                return await self._lock_refused(host, f"{host}: {held}")
            except (LockError, TransportError) as exc:
                self._record(LockEvent("failed", lock.lock_dir, error=str(exc), host=host), emit=False)
                return await self._lock_refused(host, f"{host}: could not take the lock: {exc}")
            self.locks[host] = lock
            self._record(LockEvent("acquired", lock.lock_dir, host=host), emit=False)
        self.emit(Notice(f"lock taken on {', '.join(sorted(hosts))}"))
        self._wave("lock", 0, sorted(hosts), "passed")
        return True

    async def _lock_refused(self, host: str, message: str) -> bool:
        self.emit(Notice(message, "error"))
        await self._release_lock()
        self._wave("lock", 0, [host], "failed", message)
        for name in self.release_of:
            self._host_state(name, "untouched", release=self.procedure.from_tag)
        return False

    async def _release_lock(self) -> None:
        for host in sorted(self.locks, reverse=True):
            lock = self.locks[host]
            if not lock.held:
                continue
            try:
                await lock.release()
                self._record(LockEvent("released", lock.lock_dir, host=host), emit=False)
            except Exception as exc:  # the host may be unreachable; say what is left behind
                self._record(LockEvent("release_failed", lock.lock_dir, error=str(exc), host=host), emit=False)
                self.emit(
                    Notice(
                        f"could not release the lock on {host} ({lock.lock_dir}): {exc}; "
                        "run `incident-console unlock` there once the host is back",
                        "error",
                    )
                )

    # -- the health gate --------------------------------------------------------------------------
    async def _gate(self, canary: str) -> bool:
        """The canary's health checks, every ``gate_interval_seconds`` for ``canary_pause_seconds``."""
        fleet = self.ctx.config.fleet
        pause = fleet.canary_pause_seconds if fleet is not None else 0
        if pause <= 0:
            return True
        interval = fleet.gate_interval_seconds if fleet is not None else 5.0
        checks = self.ctx.on(canary).config.health
        self._wave("gate", 0, [canary], "started", f"{canary}'s health checks for {pause:g} s")
        deadline = time.monotonic() + pause
        rounds = 0
        async with async_client() as client:
            while True:
                results = await check_all(checks, client, self.procedure.to_tag)
                rounds += 1
                bad = [r for r in results if not r.ok]
                if bad:
                    why = "; ".join(f"{r.check}: {r.error or r.http_status or 'failed'}" for r in bad)
                    self._wave("gate", 0, [canary], "failed", f"{canary} went unhealthy during the pause: {why}")
                    self._host_state(canary, "failed", release=self.procedure.to_tag, message=why)
                    return False
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        self._wave("gate", 0, [canary], "passed", f"{rounds} rounds healthy over {pause:g} s")
        return True

    # -- the record -------------------------------------------------------------------------------
    def _incident_id(self) -> str:
        return self.ctx.journal.incident_id if self.ctx.journal is not None else ""

    def _wave(self, wave: str, index: int, hosts: list[str], status: str, message: str = "") -> None:
        self._record(FleetWave(wave, index, list(hosts), status, message))

    def _host_state(
        self, host: str, state: str, *, release: str | None = None, step_id: str | None = None, message: str = ""
    ) -> None:
        if release is not None:
            self.release_of[host] = release
        self.host_states[host] = state
        self._record(FleetHostState(host, state, self.release_of.get(host), step_id, message))

    def _summary(self, stopped_before: list[str] | None = None) -> None:
        for host in stopped_before or []:
            if self.host_states.get(host) not in ("done", "failed"):
                self._host_state(host, "not_started", release=self.procedure.from_tag, message="left as it was")
        lines = [
            f"{host}: {state}" + (f" (runs {self.release_of.get(host)})" if self.release_of.get(host) else "")
            for host, state in self.host_states.items()
        ]
        level = "info" if all(s == "done" for s in self.host_states.values()) else "error"
        self.emit(Notice("fleet:\n  " + "\n  ".join(lines), level))


def _why(outcome: object) -> str:
    if outcome is True:
        return ""
    if isinstance(outcome, Exception):
        return f"{type(outcome).__name__}: {outcome}"
    return "a step failed"
