"""One run of an incident's procedure: the lock around it and the release log after it, plus
opening, rebuilding (resume) and re-checking an incident.

``console.incident.session.IncidentSession`` drives these for both the TUI and the headless CLI,
so a rollback started in one can be resumed in the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from console.commands.containers import ContainerCommands
from console.commands.swarm import is_swarm as _is_swarm
from console.config import Config
from console.engine.context import StepContext
from console.engine.events import Event, Notice
from console.engine.fleet_procedure import for_fleet, schema_step_id
from console.engine.lock import RemoteLock
from console.engine.migrations import PLAN_KEY
from console.engine.procedure import Procedure
from console.engine.rollback import RollbackTargetError, choose_target, rollback_procedure
from console.engine.runner import Decider, StepEngine
from console.engine.verification import verify_procedure
from console.incident.journal import Journal, open_incident
from console.incident.records import (
    HostRecheck,
    IncidentOpened,
    MigrationDecision,
    MigrationPlanned,
    Note,
    ReleaseLogUpdated,
    ResumeCheck,
    StepFinished,
)
from console.release.release_log import ReleaseLog, ReleaseLogError
from console.targets import target_label  # noqa: F401  (re-exported: its old home)
from console.transport.base import Transport


def make_transport(config: Config) -> Transport:
    from console.transport.ssh import SSHTransport

    return SSHTransport(config.target)


def make_staging_transport(config: Config, procedure: Procedure) -> Transport | None:
    """A second link, opened on first use, only for a procedure with steps on staging."""
    if config.staging is None or not any(step.host == "staging" for step in procedure.steps):
        return None
    return make_transport(config.on_staging())


def open_new_incident(config: Config, deployed: str | None, incident_id: str | None = None) -> Journal:
    journal = Journal.create(config.paths.state_dir, incident_id)
    journal.append(
        IncidentOpened(
            incident_id=journal.incident_id,
            operator=config.operator,
            target=target_label(config),
            project=config.target.project_name,
            deployed=deployed,
            ttr_target_minutes=config.thresholds.ttr_target_minutes,
        )
    )
    return journal


@dataclass
class IncidentRun:
    """Runs one procedure of an incident and applies its outcome to the release log."""

    config: Config
    journal: Journal | None
    transport: Transport
    decider: Decider
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    assume_yes: bool = False
    dry_run: bool = False

    fleet_transports: dict[str, Transport] = field(default_factory=dict)  # a fleet: every host's link
    take_over: Callable[[StepContext], Awaitable[None]] | None = None  # a fleet resume: per host, before its lock

    def engine(self, procedure: Procedure, done_steps: set[str] | None = None) -> StepEngine:
        context = StepContext(
            self.config,
            self.transport,
            self.journal,
            dry_run=self.dry_run,
            operator=self.config.operator,
            staging_transport=make_staging_transport(self.config, procedure),
            fleet_transports=dict(self.fleet_transports),
        )
        if procedure.options.get("fleet"):
            return self._fleet_engine(procedure, context, done_steps)
        lock = None
        if not self.dry_run and self.journal is not None:
            lock = RemoteLock(
                self.transport, self.config.target.project_dir, self.config.operator, self.journal.incident_id
            )
        engine = StepEngine(
            procedure,
            context,
            self.decider,
            assume_yes=self.assume_yes,
            lock=lock,
            done_steps=done_steps,
            listeners=self.listeners,
        )
        return self._with_recheck(engine, context)

    def _fleet_engine(self, procedure: Procedure, context: StepContext, done_steps: set[str] | None) -> StepEngine:
        from console.engine.fleet import FleetEngine

        engine = FleetEngine(
            procedure,
            context,
            self.decider,
            assume_yes=self.assume_yes,
            done_steps=done_steps,
            listeners=self.listeners,
            take_over=self.take_over,
        )
        return self._with_recheck(engine, context)

    def _with_recheck(self, engine: StepEngine, context: StepContext) -> StepEngine:
        """After a step's outcome went UNKNOWN, the engine looks at that step's host (journaled)."""
        if self.journal is not None:
            journal = self.journal

            async def recheck(step) -> None:
                ctx = context.on(step.host)
                await recheck_host(ctx.config, ctx.transport, journal, engine.emit, step_id=step.id)

            engine.recheck = recheck
        return engine

    async def run(self, procedure: Procedure, done_steps: set[str] | None = None) -> str:
        engine = self.engine(procedure, done_steps)
        try:
            outcome = await engine.run()
        finally:
            if engine.ctx.staging_transport is not None:
                await engine.ctx.staging_transport.close()
        if not self.dry_run:
            try:
                self._after(procedure, engine, outcome)
            except ReleaseLogError as exc:
                # the procedure's outcome stands; only its record in the release log is missing
                message = f"the release log was not updated: {exc}; record {procedure.to_tag} by hand"
                if self.journal is not None:
                    self.journal.append(Note(text=message, by="console"))
                for listener in self.listeners:
                    listener(Notice(message, "error"))
        return outcome

    def _after(self, procedure: Procedure, engine: StepEngine, outcome: str) -> None:
        if self.journal is None or procedure.name not in ("rollback", "code_hotfix"):
            return
        decision = self._migration_decision(procedure, engine) if procedure.name == "rollback" else None
        if outcome != "succeeded":
            return
        to_tag = procedure.to_tag
        if to_tag is None:  # rollback and hotfix procedures are always built with one
            raise ReleaseLogError(f"the {procedure.name} procedure has no release tag to record")
        log = ReleaseLog.load(self.config.paths.release_log)
        hashes = self.journal.state.artifact_hashes(procedure.to_tag)
        if procedure.from_tag and procedure.from_tag != procedure.to_tag and log.get(procedure.from_tag) is not None:
            # Both outcomes leave the old release behind for a reason: never roll back onto it blindly.
            why = "rolled back" if procedure.name == "rollback" else f"replaced by hotfix {procedure.to_tag}"
            log.mark_bad(
                procedure.from_tag, by=self.config.operator, reason=f"{why} by incident {self.journal.incident_id}"
            )
        log.set_deployed(to_tag)
        fields = ("action", "from_head", "to_head", "undone", "reason")
        log.record_incident(
            to_tag,
            self.journal.incident_id,
            outcome,
            hashes,
            {k: getattr(decision, k) for k in fields} if decision is not None else None,
        )
        log.save()
        self.journal.append(ReleaseLogUpdated(deployed=procedure.to_tag, marked_bad=procedure.from_tag))

    def _migration_decision(self, procedure: Procedure, engine: StepEngine) -> MigrationDecision | None:
        """What happened to the schema, from the journal (a resumed run only knows its own half:
        a migration step skipped before the resume must not read as rolled back)."""
        assert self.journal is not None
        state = self.journal.state
        outcome = state.settled_steps().get(schema_step_id(procedure, "migrate_rollback"))
        check_id = schema_step_id(procedure, "migration_check")
        if outcome is None:
            return None
        # The plan the step acted on: the latest one journaled before it settled.
        plan = next(
            (r for r in reversed(state.records) if isinstance(r, MigrationPlanned) and r.seq < outcome.seq), None
        )
        if plan is None:  # journals before migration_plan records: the check step's own detail
            check = next(
                (
                    r
                    for r in reversed(state.records)
                    if isinstance(r, StepFinished) and r.step_id == check_id and r.seq < outcome.seq
                ),
                None,
            )
            detail = check.detail if check is not None else {}
            if detail.get("applied") is not None:
                plan = MigrationPlanned(
                    applied=list(detail["applied"]),
                    target_head=detail.get("target_head"),
                    undo=list(detail.get("undo") or []),
                )
        if plan is None:  # no journaled check before it: what this run saw, if anything
            live = engine.ctx.state.get(PLAN_KEY)
            if live is not None and live.known:
                plan = MigrationPlanned(applied=live.applied, target_head=live.target_head, undo=live.undo)
        rolled_back = isinstance(outcome, StepFinished)
        known_none = plan is not None and plan.known and not plan.undo
        return self.journal.append(
            MigrationDecision(
                action="rolled_back" if rolled_back else ("none_needed" if known_none else "skipped"),
                from_head=(plan.applied or [None])[-1] if plan else None,
                to_head=procedure.options.get("target_migration_head"),
                undone=list(plan.undo) if rolled_back and plan else [],
                reason=None if rolled_back else getattr(outcome, "reason", None),
                by=self.config.operator,
            )
        )


FROM_RELEASE_LOG = object()


def build_rollback(
    config: Config,
    to_tag: str | None,
    migration_order: str | None = None,
    *,
    running: str | None | object = FROM_RELEASE_LOG,
) -> Procedure:
    """``running``: the release the host runs (console.release.deployed; None: a build no release captured).
    The automatic target is the newest known-good release older than *that*, never the log's idea."""
    log = ReleaseLog.load(config.paths.release_log)
    if running is FROM_RELEASE_LOG:
        deployed = log.deployed
    else:
        deployed = cast("str | None", running)
        if deployed is None and to_tag is None:
            raise RollbackTargetError(
                "the host runs no release the release log captured (see incident-console status); give --to TAG"
            )
    target = choose_target(log, deployed, to_tag)
    if _is_swarm(config.target):  # one manager: never a fleet
        from console.engine.swarm import swarm_rollback_procedure

        return swarm_rollback_procedure(config, log, deployed, target, migration_order=migration_order)
    return for_fleet(config, lambda c: rollback_procedure(c, log, deployed, target, migration_order=migration_order))


def build_verify(config: Config, expected_version: str | None) -> Procedure:
    if expected_version is None:
        expected_version = ReleaseLog.load(config.paths.release_log).deployed
    if _is_swarm(config.target):
        from console.engine.swarm import swarm_verify_procedure

        return swarm_verify_procedure(config, expected_version)
    version = expected_version
    return for_fleet(config, lambda c: verify_procedure(c, version))


def rebuild_procedure(config: Config, journal: Journal) -> tuple[Procedure, set[str]]:
    """From an unfinished incident's journal: the same procedure, and the steps already done."""
    state = journal.state
    started = state.started
    if started is None:
        raise ValueError(f"incident {journal.incident_id} never started a procedure; nothing to resume")
    if state.finished is not None and state.finished.outcome == "succeeded":
        raise ValueError(f"incident {journal.incident_id}'s {started.procedure} already succeeded")
    name = started.procedure
    options = started.options or {}
    log = ReleaseLog.load(config.paths.release_log)
    if name == "rollback":
        if started.to_tag is None:
            raise ValueError(f"incident {journal.incident_id}'s rollback has no target tag in its journal")
        to_tag = started.to_tag
        if _is_swarm(config.target):
            from console.engine.swarm import swarm_rollback_procedure

            procedure = swarm_rollback_procedure(
                config, log, started.from_tag, to_tag, migration_order=options.get("migration_order")
            )
        else:
            procedure = for_fleet(
                config,
                lambda c: rollback_procedure(
                    c, log, started.from_tag, to_tag, migration_order=options.get("migration_order")
                ),
            )
    else:
        from console.engine.hotfix import rebuild_hotfix

        procedure = for_fleet(config, lambda c: rebuild_hotfix(c, log, name, started, options))
    # Every step that finished or was skipped in any run of this procedure counts as done,
    # except the read-only checks (artifacts, bundle listing, schema comparison) and verification,
    # which are always re-run after a resume: the host may have changed while the console was away.
    done = set(state.settled_steps())
    done -= {s.id for s in procedure.steps if s.read_only}
    return procedure, done


async def recheck_host(
    config: Config, transport: Transport, journal: Journal, emit: Callable[[Event], None], *, step_id: str | None = None
) -> None:
    """Before resuming (a ``resume_check``), or after ``step_id``'s outcome went UNKNOWN (a
    ``host_recheck``): look at what is actually running, and journal it."""
    if _is_swarm(config.target):
        from console.commands.swarm import SwarmCommands

        looking = SwarmCommands.for_target(config.target).services()  # the stack's services, replicas N/M
    else:
        # the docker CLI by the project's label: compose's answer without its start-up (commands/containers.py)
        looking = ContainerCommands.for_target(config.target).ps_table()
    result = await transport.run(looking, timeout=120, capture=True)
    state = result.stdout.strip().splitlines()[-10:] if result.ok else [f"ps failed: {result.exit_status}"]
    if step_id is None:
        journal.append(ResumeCheck(ps=state, exit_code=result.exit_status))
    else:
        journal.append(HostRecheck(step_id=step_id, ps=state, exit_code=result.exit_status))
    when = "before resuming" if step_id is None else "after the link came back"
    emit(Notice(f"host state {when}:\n  " + "\n  ".join(state)))


def load_incident(config: Config, incident_id: str) -> Journal:
    return open_incident(config.paths.state_dir, incident_id)
