"""One incident, headless: its journal (the record stream), the link to the host, the lock,
the announcements to #ops and the status page, and the release-log update after a run.

The CLI and the TUI both drive an ``IncidentSession``; nothing else wires a run. Deciding,
ticking, waiving, the retro and resolving are its methods too, so every step of the runbook can
be taken from a script (``incident-console incident ...``) as well as from the screens.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from console.config import Config
from console.engine import announce as announcing
from console.engine import incident as engine_incident
from console.engine.events import Event
from console.engine.in_order import InOrder
from console.engine.incident import IncidentRun, open_new_incident, recheck_host
from console.engine.procedure import Procedure
from console.engine.runner import Decider
from console.failures import TransportError
from console.incident import host_mirror
from console.incident.journal import Journal, open_incident, utc_now
from console.incident.records import (
    ChecklistMark,
    Decision,
    DecisionRetracted,
    Handoff,
    IncidentResolved,
    MatrixMark,
    Outcome,
    Retro,
)
from console.incident.state import IncidentState
from console.notify import messages
from console.notify.notifier import Notifier
from console.transport.base import Transport

Background = Callable[[Awaitable[Any]], Any]


class SessionError(ValueError):
    """A session method was asked something the incident's state does not allow (bad input)."""


class IncidentSession:
    """``IncidentSession(config, journal)``; ``transport``: a link owned by the caller (the TUI shares
    one for the whole app), else one is made on ``connect`` and closed on ``close``. ``background``:
    how announcements leave the caller's path (the TUI runs them in a worker); ``announce_beside``:
    they run one after another beside the procedure and ``flush``/``close`` wait for them (a
    headless run); with neither they are awaited in place."""

    def __init__(
        self,
        config: Config,
        journal: Journal | None,
        *,
        transport: Transport | None = None,
        background: Background | None = None,
        announcer: Callable[..., Any] | None = None,
        announce_beside: bool = False,
    ) -> None:
        self.config = config
        self.journal = journal
        self._transport = transport
        self._owns_transport = transport is None
        self._connected = transport is not None
        self._compose_unasked = False  # this session connected the link and has not asked which compose yet
        self._release_log_synced = False  # the host's release log was pulled on this link (sync_release_log)
        self._background = background
        self._announcer = announcer  # the TUI hands announcing to the app: ``announcer(event, **details)``
        self._beside = InOrder() if announce_beside else None
        self._notifier: Notifier | None = None
        self._notifier_for: Journal | None = None
        self._mirror: host_mirror.HostMirror | None = None  # the journal's host copy (console.incident.host_mirror)
        self.fetched_from_host = False  # the journal came from the host copy (a handoff)
        self._fleet: dict[str, Transport] | None = None  # a fleet's links, host name -> link

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def load(cls, config: Config, incident_id: str, **options: Any) -> IncidentSession:
        return cls(config, open_incident(config.paths.state_dir, incident_id), **options)

    async def open_incident(self, deployed: str | None, incident_id: str | None = None) -> Journal:
        """Open a new incident (journaled) and announce it."""
        self.journal = open_new_incident(self.config, deployed, incident_id)
        await self.announce(messages.INCIDENT_OPENED)
        return self.journal

    @property
    def state(self) -> IncidentState:
        return self._journal().state

    @property
    def incident_id(self) -> str | None:
        return self.journal.incident_id if self.journal is not None else None

    def _journal(self) -> Journal:
        if self.journal is None:
            raise SessionError("no incident is open")
        return self.journal

    # -- the link to the host --------------------------------------------------------------
    async def connect(self, *, ask_compose: bool = True) -> Transport:
        """The link to the host; a link this session connects asks the host which compose it has
        (``ask_compose=False``: not yet, the next ``connect()`` asks). One link per session: the
        CLI's checks before a run (release log, what the host runs) use it too. A fleet: every
        host is reached (at once) before anything runs, so an unreachable host stops the run with
        nothing changed; the first host's link is the session's own."""
        if self._transport is None:
            self._transport = engine_incident.make_transport(self.config)
        if not self._connected:
            await self._transport.connect()
            self._connected = True
            self._compose_unasked = True
        if ask_compose and self._compose_unasked:
            self._compose_unasked = False
            await ask_host_compose(self._transport, self.config)
        if ask_compose and getattr(self.config, "fleet", None) is not None and self._fleet is None:
            links = self._fleet_links(self._transport)
            try:
                await asyncio.gather(
                    *(self._reach(name, link) for name, link in links.items() if link is not self._transport)
                )
            except BaseException:
                await self._close_fleet_links(links, self._transport)
                raise
            self._fleet = links
        return self._transport

    async def _reach(self, name: str, link: Transport) -> None:
        try:
            await link.connect()
        except TransportError as exc:
            raise type(exc)(f"fleet host {name}: {exc}") from exc
        await ask_host_compose(link, self.config.on_host(name))

    async def sync_release_log(self, warn: Callable[[str], None]) -> bool:
        """Host wins: the host's release log replaces this machine's (or is seeded from it) over the
        session's link; ``warn`` hears why not. True when it worked: the run then does not ask again."""
        failures: list[str] = []

        def failed(text: str) -> None:
            failures.append(text)
            warn(text)

        transport = await self.connect(ask_compose=False)
        await host_mirror.sync_release_log(self.config, transport, failed)
        self._release_log_synced = not failures
        return self._release_log_synced

    async def connect_for(self, procedure: Procedure, rebuild: Callable[[], Procedure] | None = None) -> Procedure:
        """Connect, and when the host's compose flavour is not the one ``procedure`` was built for
        (it was built before the host was asked), build it again with ``rebuild``."""
        from console.host_facts import flavour_for

        assumed = flavour_for(self.config.target)
        await self.connect()
        if rebuild is not None and flavour_for(self.config.target) != assumed:
            return rebuild()
        return procedure

    def _share(self) -> None:
        """Keep the journal's host copy up to date from now on (appends flush in the background)."""
        if not host_mirror.enabled(self.config) or self.journal is None or self._transport is None:
            return
        if self._mirror is None or self._mirror.journal is not self.journal:
            if self._mirror is not None:
                self._mirror.detach()
            self._mirror = host_mirror.HostMirror(self.config, self.journal, self._transport)
            self._mirror.attach()
        self._mirror.notify()

    def _handoff(self) -> None:
        """A resume by another machine or operator than the incident's last console is journaled."""
        state = self.state
        last = state.handoffs[-1] if state.handoffs else None
        operator = last.to_operator if last else (state.opened.operator if state.opened else None)
        # the last console's machine: a handoff's, else the one that started the procedure (liveness)
        started = state.started
        machine = last.to_machine if last else (started.machine if started is not None else None) or None
        here = socket.gethostname()
        if self.fetched_from_host or operator != self.config.operator or (machine and machine != here):
            self._journal().append(
                Handoff(
                    operator,
                    machine,
                    self.config.operator,
                    here,
                    self.fetched_from_host,
                    "resumed here" + (" from the host's copy of the journal" if self.fetched_from_host else ""),
                )
            )
            self.fetched_from_host = False

    async def close(self) -> None:
        if self._beside is not None:
            await self._beside.done()  # announcements still on their way are sent (or queued) first
        mirror, self._mirror = self._mirror, None  # closing twice flushes once
        if mirror is not None:
            await mirror.close()
        await self.close_fleet_links()
        if self._owns_transport and self._transport is not None and self._connected:
            self._connected = False
            await self._transport.close()

    # -- announcements ---------------------------------------------------------------------
    def notifier(self) -> Notifier | None:
        if self.journal is None:
            return None
        if self._notifier_for is not self.journal:
            self._notifier, self._notifier_for = announcing.incident_notifier(self.config, self.journal), self.journal
        return self._notifier

    async def announce(self, event: str, **details: Any) -> None:
        """Slack #ops and the status page hear of it; the outbox retries, never blocking a run."""
        if self._announcer is not None:
            self._announcer(event, **details)
            return
        notifier = self.notifier()
        if notifier is None:
            return
        if self._beside is not None:
            self._beside.add(announcing.announce(notifier, event, **details))
            return
        if self._background is not None:

            async def send() -> None:
                await announcing.announce(notifier, event, **details)
                await announcing.flush(notifier, seconds=120)

            self._background(send())
            return
        await announcing.announce(notifier, event, **details)

    async def flush(self, seconds: float | None = None) -> None:
        if self._beside is not None:
            await self._beside.done()
        if seconds is None:
            await announcing.flush(self.notifier())
        else:
            await announcing.flush(self.notifier(), seconds)

    async def post_resolution(self) -> dict[str, str]:
        """Post the resolution summary now; channel -> status (empty without notifications)."""
        resolved = self.state.resolved
        if resolved is None:
            raise SessionError("resolve the incident first: the summary goes into the message")
        notifier = self.notifier()
        if notifier is None:
            return {}
        return await notifier.notify(messages.INCIDENT_RESOLVED, summary=resolved.summary)

    async def end_silence(self, *, keep: bool = False, by: str | None = None) -> tuple[str, str]:
        """On resolve: expire the incident's Alertmanager silence, or journal that it is kept (also
        when ``[alertmanager] keep_silence`` says so). ``(action, message)``; action is ``none``,
        ``expired``, ``kept`` or ``failed`` (nothing journaled: expire it by hand)."""
        from console.observability.silences import end_incident_silence

        settings = self.config.observability.alertmanager
        if self.state.active_silence is None:
            return "none", "no alert silence to expire"
        keep = keep or (settings is not None and settings.keep_silence)
        return await end_incident_silence(self.config, self._journal(), by or self.config.operator, keep=keep)

    # -- running a procedure ----------------------------------------------------------------
    async def run(
        self,
        procedure: Procedure,
        decider: Decider,
        *,
        listeners: Iterable[Callable[[Event], None]] = (),
        done_steps: set[str] | None = None,
        assume_yes: bool = False,
        dry_run: bool = False,
        resume: bool = False,
        take_over_lock: Callable[[Transport, Journal, Config], Awaitable[None]] | None = None,
    ) -> str:
        """Run ``procedure`` for this incident: re-check the host on a resume, announce the start and
        the outcome (the incident's own procedures only: not a dry run, not verification), take and
        free the lock, and update the release log. Returns succeeded | failed | aborted.
        ``take_over_lock``: on a resume, after the host re-check, decides about the lock a dead console
        left (console.engine.takeover; raises TakeOverRefused to stop before anything runs)."""
        listeners = list(listeners)
        transport = await self.connect()
        if not dry_run:
            self._share()
        fleet = self.config.fleet if procedure.options.get("fleet") else None
        if resume and self.journal is not None:
            self._handoff()
            if fleet is None:
                await recheck_host(self.config, transport, self.journal, _fan_out(listeners))
                if take_over_lock is not None:
                    await take_over_lock(transport, self.journal, self.config)
            # a fleet re-checks each host on its own link, and takes each lock over just before taking it
        own = self.journal is not None and not dry_run and procedure.name != "verify"
        if own and host_mirror.enabled(self.config) and not self._release_log_synced:  # host wins
            await host_mirror.sync_release_log(self.config, transport, self._release_log_warning)
        if own:
            await self.announce(
                messages.PROCEDURE_STARTED,
                procedure=procedure.name,
                from_tag=procedure.from_tag,
                to_tag=procedure.to_tag,
            )
        run = IncidentRun(
            self.config, self.journal, transport, decider, listeners, assume_yes=assume_yes, dry_run=dry_run
        )
        if procedure.options.get("fleet"):
            run.fleet_transports = self.fleet_links  # connect() reached every host
            if resume and self.journal is not None and take_over_lock is not None:
                journal = self.journal
                emit = _fan_out(listeners)

                async def resume_host(ctx) -> None:  # each host re-checked, its lock taken over if need be
                    await recheck_host(ctx.config, ctx.transport, journal, emit)
                    await take_over_lock(ctx.transport, journal, ctx.config)

                run.take_over = resume_host
        outcome = await run.run(procedure, done_steps)
        if own and host_mirror.enabled(self.config):
            await host_mirror.sync_release_log_up(self.config, transport, self._release_log_warning)
        if own:
            await self.announce(
                messages.PROCEDURE_FINISHED,
                procedure=procedure.name,
                outcome=outcome,
                from_tag=procedure.from_tag,
                to_tag=procedure.to_tag,
            )
        return outcome

    def _fleet_links(self, first: Transport) -> dict[str, Transport]:
        """Every fleet host's link: the session's own for the first host (``config.target``), a new
        one (connected on first use) for each other."""
        assert self.config.fleet is not None
        links: dict[str, Transport] = {}
        for host in self.config.fleet.hosts:
            same = host.target == self.config.target
            links[host.name] = first if same else engine_incident.make_transport(self.config.on_host(host.name))
        return links

    @property
    def fleet_links(self) -> dict[str, Transport]:
        """A fleet's links once ``connect()`` reached every host (else empty)."""
        return dict(self._fleet or {})

    async def close_fleet_links(self) -> None:
        """Close the links this session opened to the other fleet hosts (the first host's stays)."""
        if self._fleet is not None and self._transport is not None:
            await self._close_fleet_links(self._fleet, self._transport)
        self._fleet = None

    @staticmethod
    async def _close_fleet_links(links: dict[str, Transport], keep: Transport) -> None:
        for link in links.values():
            if link is not keep:
                with contextlib.suppress(Exception):  # closing a link that never opened, or died
                    await link.close()

    def _release_log_warning(self, text: str) -> None:
        if self.journal is not None:
            self.journal.record("note", by="console", text=f"the host's copy of the release log: {text}")

    # -- deciding ----------------------------------------------------------------------------
    def answer(self, question_id: str, question: str, answer: bool, by: str | None = None) -> Decision:
        return self._journal().append(Decision(question_id, question, bool(answer), by or self.config.operator))

    def retract(self, question_id: str, question: str = "", by: str | None = None) -> DecisionRetracted:
        answer = self.state.answers.get(question_id)
        if answer is None:
            raise SessionError(f"question {question_id!r} has no answer to withdraw")
        return self._journal().append(DecisionRetracted(question_id, question, answer, by or self.config.operator))

    def mark(
        self, condition: str, condition_id: str | None, column: str, marked: bool, by: str | None = None
    ) -> MatrixMark:
        return self._journal().append(
            MatrixMark(condition, condition_id, column, bool(marked), by or self.config.operator)
        )

    def decide(
        self,
        outcome: str,
        *,
        path: list | None = None,
        overridden: bool = False,
        reason: str | None = None,
        tree_outcome: str | None = None,
        matrix_agrees: bool | None = None,
        by: str | None = None,
    ) -> Outcome:
        """Journal the decision (``announce_decision`` tells #ops)."""
        if self.state.resolved is not None:
            raise SessionError(f"incident {self.incident_id} is resolved; open a new one")
        if overridden and not (reason or "").strip():
            raise SessionError("overriding the decision tree needs a reason")
        if path is None:
            path = [{"question_id": q, "answer": a} for q, a in self.state.answers.items()]
        return self._journal().append(
            Outcome(outcome, path, overridden, reason, tree_outcome, matrix_agrees, by or self.config.operator)
        )

    async def announce_decision(self) -> None:
        decided = self.state.outcome
        if decided is not None:
            await self.announce(
                messages.DECISION_MADE, outcome=decided.outcome, overridden=decided.overridden, reason=decided.reason
            )

    # -- ticks and waivers ----------------------------------------------------------------------
    def set_tick(
        self,
        item_id: str,
        group: str,
        title: str,
        status: str,
        *,
        how: str = "manual",
        by: str | None = None,
        detail: str = "",
        reason: str = "",
    ) -> ChecklistMark:
        if status == "waived" and not reason.strip():
            raise SessionError("waiving a checklist item needs a reason")
        return self._journal().append(
            ChecklistMark(item_id, group, title, status, how, by or self.config.operator, detail, reason.strip())
        )

    def toggle_tick(self, item_id: str, group: str, title: str, by: str | None = None) -> ChecklistMark:
        """Tick a hand-checked item, or untick it if it is ticked; journaled with who and when."""
        current = self.state.ticks.get(item_id)
        status = "pending" if current is not None and current.status == "done" else "done"
        return self.set_tick(item_id, group, title, status, by=by)

    # -- follow-up ---------------------------------------------------------------------------
    def save_retro(self, root_cause: str, detection_gaps: str, action_items: list[str], by: str | None = None) -> Retro:
        items = [a.strip() for a in action_items if a.strip()]
        return self._journal().append(
            Retro(root_cause.strip(), detection_gaps.strip(), items, by or self.config.operator)
        )

    def resolve(
        self, summary: str, *, by: str | None = None, now: datetime | None = None, opened_at: datetime | None = None
    ) -> IncidentResolved:
        """Journal the resolution with its time to recover (from the incident's opening, or
        ``opened_at`` when the caller's clock says otherwise, to ``now``)."""
        state = self.state
        if state.resolved is not None:
            raise SessionError(f"incident {self.incident_id} is already resolved")
        if not summary.strip():
            raise SessionError("resolving needs a one-line summary")
        opened = opened_at or (state.opened.at if state.opened is not None else None)
        ttr = round(((now or utc_now()) - opened).total_seconds(), 1) if opened else None
        return self._journal().append(IncidentResolved(ttr, by or self.config.operator, summary.strip()))


def _fan_out(listeners: list[Callable[[Event], None]]) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        for listener in listeners:
            listener(event)

    return emit


__all__ = ["IncidentSession", "SessionError"]


async def ask_host_compose(transport: Transport, config: Config) -> None:
    """Which compose the host has: asked once per host (cached by console.host_facts), unless the
    config's compose_command names one. A host that cannot answer leaves v2 assumed; the next
    command says the link is down."""
    from console.failures import TransportError
    from console.host_facts import AUTO, probe_host

    if config.target.compose_command != AUTO or getattr(config.target, "engine", "compose") == "swarm":
        return  # a swarm stack is deployed with docker stack deploy: no compose flavour to ask
    try:
        await probe_host(transport, config.target)
    except TransportError:
        pass
