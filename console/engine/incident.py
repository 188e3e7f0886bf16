"""An incident session: the journal, the transport, the lock and the release log around one run.

Both the TUI and the headless CLI go through here, so a rollback started in one
can be resumed in the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from console.commands.compose import ComposeCommands
from console.config import Config
from console.engine.context import StepContext
from console.engine.events import Event, Notice
from console.engine.lock import RemoteLock
from console.engine.migrations import PLAN_KEY
from console.engine.procedure import Procedure
from console.engine.rollback import RollbackTargetError, choose_target, rollback_procedure
from console.engine.runner import Decider, StepEngine
from console.engine.verification import verify_procedure
from console.incidents import incident_procedure
from console.journal import Journal, open_incident
from console.releaselog import ReleaseLog, ReleaseLogError
from console.transport.base import Transport


def make_transport(config: Config) -> Transport:
    from console.transport.ssh import SSHTransport
    return SSHTransport(config.target)


def make_staging_transport(config: Config, procedure: Procedure) -> Transport | None:
    """A second link, opened on first use, only for a procedure with steps on staging."""
    if config.staging is None or not any(step.host == "staging" for step in procedure.steps):
        return None
    return make_transport(config.on_staging())


def target_label(config: Config) -> str:
    t = config.target
    return f"{t.user}@{t.host}:{t.port}" if t.user else f"{t.host}:{t.port}"


def open_new_incident(config: Config, deployed: str | None, incident_id: str | None = None) -> Journal:
    journal = Journal.create(config.paths.state_dir, incident_id)
    journal.record("incident_opened", incident_id=journal.incident_id, operator=config.operator,
                   target=target_label(config), project=config.target.project_name, deployed=deployed,
                   ttr_target_minutes=config.thresholds.ttr_target_minutes)
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

    def engine(self, procedure: Procedure, done_steps: set[str] | None = None) -> StepEngine:
        context = StepContext(self.config, self.transport, self.journal, dry_run=self.dry_run,
                              operator=self.config.operator,
                              staging_transport=make_staging_transport(self.config, procedure))
        lock = None
        if not self.dry_run and self.journal is not None:
            lock = RemoteLock(self.transport, self.config.target.project_dir, self.config.operator,
                              self.journal.incident_id)
        return StepEngine(procedure, context, self.decider, assume_yes=self.assume_yes, lock=lock,
                          done_steps=done_steps, listeners=self.listeners)

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
                    self.journal.record("note", message=message, by="console")
                for listener in self.listeners:
                    listener(Notice(message, "error"))
        return outcome

    def _after(self, procedure: Procedure, engine: StepEngine, outcome: str) -> None:
        if self.journal is None or procedure.name not in ("rollback", "code_hotfix"):
            return
        decision = self._migration_decision(procedure, engine) if procedure.name == "rollback" else None
        if outcome != "succeeded":
            return
        log = ReleaseLog.load(self.config.paths.release_log)
        hashes = {}
        for record in self.journal.records():
            if record["type"] == "artifact" and record.get("tag") == procedure.to_tag \
                    and record.get("on", "target") == "target":
                hashes[record["file"]] = record["sha256"]
        if procedure.from_tag and procedure.from_tag != procedure.to_tag and log.get(procedure.from_tag) is not None:
            # Both outcomes leave the old release behind for a reason: never roll back onto it blindly.
            why = ("rolled back" if procedure.name == "rollback" else f"replaced by hotfix {procedure.to_tag}")
            log.mark_bad(procedure.from_tag, by=self.config.operator,
                         reason=f"{why} by incident {self.journal.incident_id}")
        log.set_deployed(procedure.to_tag)
        log.record_incident(procedure.to_tag, self.journal.incident_id, outcome, hashes,
                            decision and {k: decision.get(k) for k in ("action", "from_head", "to_head", "undone", "reason")})
        log.save()
        self.journal.record("release_log", deployed=procedure.to_tag, marked_bad=procedure.from_tag)

    def _migration_decision(self, procedure: Procedure, engine: StepEngine) -> dict | None:
        """What happened to the schema, from the journal (a resumed run only knows its own half:
        a migration step skipped before the resume must not read as rolled back)."""
        assert self.journal is not None
        records = list(self.journal.records())
        outcome = next((r for r in reversed(records) if r.get("step_id") == "migrate_rollback"
                        and r["type"] in ("step_finished", "step_skipped")), None)
        if outcome is None:
            return None
        planned = next((r for r in reversed(records) if r["type"] == "step_finished"
                        and r.get("step_id") == "migration_check" and r["seq"] < outcome["seq"]), None)
        plan = (planned or {}).get("detail") or {}
        if not plan:   # no journaled check before it: what this run saw, if anything
            live = engine.ctx.state.get(PLAN_KEY)
            if live is not None and live.known:
                plan = {"applied": live.applied, "undo": live.undo}
        rolled_back = outcome["type"] == "step_finished"
        known = isinstance(plan.get("applied"), list)
        return self.journal.record(
            "migration_decision",
            action="rolled_back" if rolled_back else (
                "none_needed" if known and not plan.get("undo") else "skipped"),
            from_head=(plan.get("applied") or [None])[-1],
            to_head=procedure.options.get("target_migration_head"),
            undone=list(plan.get("undo") or []) if rolled_back else [],
            reason=None if rolled_back else outcome.get("reason"),
            by=self.config.operator)


FROM_RELEASE_LOG = object()


def build_rollback(config: Config, to_tag: str | None, migration_order: str | None = None, *,
                   running: str | None | object = FROM_RELEASE_LOG) -> Procedure:
    """``running``: the release the host runs (console.deployed; None: a build no release captured).
    The automatic target is the newest known-good release older than *that*, never the log's idea."""
    log = ReleaseLog.load(config.paths.release_log)
    if running is FROM_RELEASE_LOG:
        deployed = log.deployed
    else:
        deployed = running
        if deployed is None and to_tag is None:
            raise RollbackTargetError("the host runs no release the release log captured (see "
                                      "incident-console status); give --to TAG")
    target = choose_target(log, deployed, to_tag)
    return rollback_procedure(config, log, deployed, target, migration_order=migration_order)


def build_verify(config: Config, expected_version: str | None) -> Procedure:
    if expected_version is None:
        expected_version = ReleaseLog.load(config.paths.release_log).deployed
    return verify_procedure(config, expected_version)


def rebuild_procedure(config: Config, journal: Journal) -> tuple[Procedure, set[str]]:
    """From an unfinished incident's journal: the same procedure, and the steps already done."""
    started, ended = incident_procedure(journal.records())
    if started is None:
        raise ValueError(f"incident {journal.incident_id} never started a procedure; nothing to resume")
    if ended is not None and ended["type"] == "procedure_finished" and ended.get("outcome") == "succeeded":
        raise ValueError(f"incident {journal.incident_id}'s {started['procedure']} already succeeded")
    name = started["procedure"]
    options = started.get("options") or {}
    log = ReleaseLog.load(config.paths.release_log)
    if name == "rollback":
        procedure = rollback_procedure(config, log, started.get("from_tag"), started["to_tag"],
                                       migration_order=options.get("migration_order"))
    else:
        from console.engine.hotfix import rebuild_hotfix
        procedure = rebuild_hotfix(config, log, name, started, options)
    # Every step that finished or was skipped in any run of this procedure counts as done,
    # except the artifact checks and verification, which are always re-run after a resume
    # (the host may have changed while the console was away).
    first = _first_start(journal, name, started)
    done = set()
    for record in journal.records():
        if record["seq"] < first or record["type"] not in ("step_finished", "step_skipped"):
            continue
        done.add(record["step_id"])
    done -= {s.id for s in procedure.steps if s.read_only and s.id != "migration_check"}
    return procedure, done


def _first_start(journal: Journal, name: str, last_started: dict) -> int:
    """The seq of the original start of the procedure a chain of resumes belongs to."""
    first = last_started["seq"]
    for record in journal.records():
        if record["type"] == "procedure_started" and record["procedure"] == name \
                and record.get("to_tag") == last_started.get("to_tag"):
            first = min(first, record["seq"])
    return first


async def recheck_host(config: Config, transport: Transport, journal: Journal,
                       emit: Callable[[Event], None]) -> None:
    """Before resuming: look at what is actually running, and journal it."""
    compose = ComposeCommands.for_target(config.target)
    result = await transport.run(compose.ps(), timeout=120, capture=True)
    state = result.stdout.strip().splitlines()[-10:] if result.ok else [f"ps failed: {result.exit_status}"]
    journal.record("resume_check", ps=state, exit_code=result.exit_status)
    emit(Notice("host state before resuming:\n  " + "\n  ".join(state)))


def load_incident(config: Config, incident_id: str) -> Journal:
    return open_incident(config.paths.state_dir, incident_id)
