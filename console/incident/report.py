"""The incident report: a Markdown story of one incident, rebuilt from its journal.

``render_report(Journal(dir).state)`` is pure and deterministic: the same
journal always gives the same text (a golden-file test keeps it so), and the
report adds nothing the journal does not hold, so secrets stay out of it the
way they stay out of the journal. It covers what the runbook's follow-up asks
for: the timeline, the decision and its reasons, the checklist, every command
with its result, artifact hashes, the migration decision, the time to recover
against its target, and the retro (root cause, detection gaps, action items).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any

from console.incident import records as rec
from console.incident.fleet_report import fleet_section
from console.incident.records import Record, as_record, parse_iso, record_fields
from console.incident.state import IncidentState
from console.notify.messages import OUTCOME_LABELS, format_duration
from console.observability.report_section import metrics_section
from console.secrets import Secret, redact_text

PLACEHOLDER = "_to be filled in_"
TITLES = {
    "rollback": "Rollback",
    "config_hotfix": "Configuration hotfix",
    "code_hotfix": "Code hotfix",
    "verify": "Verification",
}


def render_report(
    incident: IncidentState | Iterable[Record], *, title: str | None = None, secrets: list[Secret] | None = None
) -> str:
    """``incident``: a journal's ``state`` (or its records, folded here)."""
    if not isinstance(incident, IncidentState):
        incident = IncidentState.fold(sorted((as_record(r) for r in incident), key=lambda r: r.seq))
    state = incident
    sections = [
        _summary(state, title),
        _timeline(state),
        fleet_section(state),  # "" on a single host
        _decision(state),
        _checklist(state),
        _commands(state),
        _artifacts(state),
        _migration(state),
        _health(state),
        metrics_section(state),
        _notifications(state),
        _ttr(state),
        _retro(state),
    ]
    text = "\n\n".join(s for s in sections if s) + "\n"
    # Belt and braces: the journal is scrubbed already, but a caller that knows
    # live secret values can have them struck from the text too.
    return redact_text(text, secrets or [])


# -- helpers -------------------------------------------------------------------


def _time(ts: str | None, with_date: bool = True) -> str:
    if not ts:
        return "?"
    moment = parse_iso(ts)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "—"
    text = " ".join(str(value).split())
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _yes_no(value: Any) -> str:
    return "Yes" if value else "No"


def _seconds(value: Any) -> str:
    if value is None:
        return "—"
    return f"{float(value):.1f} s"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ttr_numbers(state: IncidentState) -> tuple[float | None, float | None, bool]:
    """(seconds, target seconds, resolved?)."""
    opened, resolved = state.opened, state.resolved
    target = opened.ttr_target_minutes if opened else None
    target_s = float(target) * 60 if target is not None else None
    if resolved is not None and resolved.ttr_seconds is not None:
        return float(resolved.ttr_seconds), target_s, True
    return state.elapsed_seconds(), target_s, False


def _ttr_verdict(seconds: float, target: float | None) -> str:
    if target is None:
        return format_duration(seconds)
    if seconds <= target:
        return (
            f"{format_duration(seconds)} against a {format_duration(target)} target: "
            f"met ({format_duration(target - seconds)} to spare)"
        )
    return (
        f"{format_duration(seconds)} against a {format_duration(target)} target: "
        f"missed by {format_duration(seconds - target)}"
    )


# -- sections ------------------------------------------------------------------


def _summary(state: IncidentState, title: str | None) -> str:
    opened = state.opened or rec.IncidentOpened(incident_id="unknown")
    resolved = state.resolved
    started, finished = state.started, state.finished
    from_tag, to_tag = state.tags()
    incident_id = opened.incident_id or "unknown"
    choice = state.decided or (started.procedure if started else None)
    label = TITLES.get(choice, choice.replace("_", " ").capitalize()) if choice else "No decision yet"
    move = f"{from_tag} → {to_tag}" if from_tag and to_tag else (from_tag or to_tag or "—")
    if title is None:
        title = f"Incident {incident_id}: {label.lower() if choice else 'open'}" + (
            f" {move}" if from_tag and to_tag else ""
        )
    if finished is not None:
        result = finished.outcome or "finished"
    elif started is not None:
        result = "not finished"
    else:
        result = "not started"
    if started is not None and started.dry_run:
        result += " (dry run)"
    seconds, target, is_resolved = _ttr_numbers(state)
    if seconds is None:
        ttr = "—"
    else:
        ttr = _ttr_verdict(seconds, target) + ("" if is_resolved else " (still open)")
    rows = [
        ["Incident", _code(incident_id)],
        ["Project", _cell(opened.project)],
        ["Target", _code(opened.target) if opened.target else "—"],
        ["Operator", _cell(opened.operator)],
        ["Outcome", _cell(f"{label} — {result}")],
        ["Release", _cell(move)],
        ["Opened", _time(opened.ts)],
        ["Resolved", (f"{_time(resolved.ts)} by {_cell(resolved.by)}" if resolved else "not yet")],
        ["Time to recover", _cell(ttr)],
    ]
    text = f"# {title}\n\n## Summary\n\n" + _table(["", ""], rows)
    if resolved and resolved.summary:
        text += "\n\n> " + " ".join(str(resolved.summary).split())
    return text


def _timeline(state: IncidentState) -> str:
    records = state.records
    dates = {parse_iso(r.ts).date() for r in records if r.ts}
    with_date = len(dates) > 1
    heading = "## Timeline (UTC" + ("" if with_date or not dates else f", {min(dates).isoformat()}") + ")"
    rows = []
    health_state: dict[Any, Any] = {}
    for record in records:
        if isinstance(record, rec.Health):
            # Polling repeats itself; only changes of state tell the story.
            check = (record.on, record.check)
            if health_state.get(check) == record.ok:
                continue
            health_state[check] = record.ok
        line = _timeline_line(record)
        if line:
            rows.append([_time(record.ts, with_date), line])
    return heading + "\n\n" + (_table(["Time", "Event"], rows) if rows else "_No events recorded._")


def _timeline_line(r: Record) -> str | None:
    if isinstance(r, rec.IncidentOpened):
        return _cell(f"Incident opened by {r.operator} on {r.target} ({r.deployed} deployed)")
    if isinstance(r, rec.Handoff):
        was = f"{r.from_operator or 'unknown'} on {r.from_machine or 'an unknown machine'}"
        how = " (journal fetched from the host)" if r.fetched else ""
        why = f": {r.reason}" if r.reason else ""
        return _cell(f"Handed over from {was} to {r.to_operator} on {r.to_machine}{how}{why}")
    if isinstance(r, rec.Decision):
        return _cell(f"{r.question} — {_yes_no(r.answer)} ({r.by})")
    if isinstance(r, rec.DecisionRetracted):
        was = f" — was {_yes_no(r.answer)}" if r.answer is not None else ""
        return _cell(f"Answer withdrawn (Back): {r.question or r.question_id}{was} ({r.by})")
    if isinstance(r, rec.Outcome):
        text = f"Chose {OUTCOME_LABELS.get(r.outcome, r.outcome)} ({r.by})"
        if r.overridden:
            text += f", overriding the decision tree: {r.reason or 'no reason given'}"
        return _cell(text)
    if isinstance(r, rec.MatrixMark):
        mark = "marked" if r.marked else "unmarked"
        return _cell(f"Action matrix: {r.condition} → {r.column} {mark} ({r.by})")
    if isinstance(r, rec.ChecklistMark):
        text = f"Checklist: {r.title} — {r.status} ({r.how}, {r.by})"
        if r.status == "waived" and r.reason:
            text += f": {r.reason}"
        return _cell(text)
    if isinstance(r, rec.ProcedureStarted):
        dry = " (dry run)" if r.dry_run else ""
        move = f": {r.from_tag} → {r.to_tag}" if r.from_tag else (f": {r.to_tag}" if r.to_tag else "")
        return _cell(f"{TITLES.get(r.procedure, r.procedure)} started{move}{dry}")
    if isinstance(r, rec.StepFinished):
        return _cell(f"Step {r.step_id} done (exit {r.exit_code}, {_seconds(r.duration)})")
    if isinstance(r, rec.StepFailed):
        return _cell(f"Step {r.step_id} failed: {r.reason_label}" + (f" — {r.message}" if r.message else ""))
    if isinstance(r, rec.StepSkipped):
        optional = " (optional in the runbook)" if r.optional else ""
        return _cell(f"Step {r.step_id} skipped{optional} by {r.by}: {r.reason}")
    if isinstance(r, rec.ProcedureInterrupted):
        at = f" at step {r.step_id}" if r.step_id else ""
        if r.running_together:
            at = f" at steps {', '.join(str(s) for s in r.running_together)} (running at once)"
        return _cell(
            f"{TITLES.get(r.procedure, r.procedure)} interrupted{at} "
            f"after {format_duration(float(r.duration or 0))}; left to be resumed"
        )
    if isinstance(r, rec.ProcedureFinished):
        return _cell(f"{TITLES.get(r.procedure, r.procedure)} {r.outcome} in {format_duration(float(r.duration or 0))}")
    if isinstance(r, rec.Artifact):
        state = "verified" if r.verified else "NOT verified"
        return _cell(f"Artifact {r.file} ({r.tag}) {state} against the {_source(r.source, r.on)}")
    if isinstance(r, rec.MigrationDecision):
        return _cell(f"Migrations: {_migration_sentence(r)}")
    if isinstance(r, rec.MigrationPlanned):
        undo = ", ".join(r.undo) or "nothing"
        return _cell(
            f"Migration plan{' on staging' if r.on == 'staging' else ''}: a rollback to "
            f"{r.target_head} would undo {undo}"
        )
    if isinstance(r, rec.Health):
        state = "healthy" if r.ok else "unhealthy"
        where = " on staging" if r.on == "staging" else ""
        return _cell(f"Health check {r.check}{where}: {state} ({_health_detail(r)})")
    if isinstance(r, rec.Notification):
        if r.status == "queued":
            return None  # retries are in the notifications table
        return _cell(f"Notification to {r.channel} ({r.event}): {r.status}")
    if isinstance(r, rec.Retro):
        return _cell(f"Retro notes recorded by {r.by}")
    if isinstance(r, rec.IncidentResolved):
        return _cell(f"Incident resolved by {r.by}")
    if isinstance(r, rec.HostRecheck):
        state = "; ".join(r.ps[-3:]) if r.ps else "nothing listed"
        return _cell(f"Host re-checked after the link died during step {r.step_id} (outcome unknown): {state}")
    if isinstance(r, rec.LockEvent) and r.action == "taken_over":
        previous = r.previous_console or {}
        held = (
            f" from console pid {previous.get('pid')} on {previous.get('machine') or '?'}"
            if previous.get("pid")
            else ""
        )
        return _cell(f"Host lock {r.lock_dir} taken over{held} by {r.by}: {r.reason}")
    if isinstance(r, (rec.StepStarted, rec.StepConfirmed)):
        return None
    if isinstance(r, rec.MetricsCheck):
        value = "no value" if r.value is None else f"{r.value:.4g}"
        limit = "" if r.limit is None else f" (limit {r.limit:.4g})"
        why = f"; {r.detail}" if r.detail else ""
        return _cell(f"Metrics check {r.name} ({r.phase}): {r.verdict} at {value} {r.comparison}{limit}{why}")
    if isinstance(r, rec.AlertSilence):
        who = r.created_by or r.by
        until = f" until {r.ends_at}" if r.action in ("created", "kept") and r.ends_at else ""
        return _cell(f"Alert silence {r.silence_id} {r.action}{until}" + (f" ({who})" if who else ""))
    if isinstance(r, rec.Note):
        return _cell(f"Note by {r.by or '?'}: {r.text}")
    if isinstance(r, rec.FleetWave):
        wave = f"batch {r.index}" if r.wave == "batch" else r.wave
        hosts = f" ({', '.join(str(h) for h in r.hosts)})" if r.hosts else ""
        return _cell(f"Fleet {wave}{hosts} {r.status}" + (f": {r.message}" if r.message else ""))
    if isinstance(r, rec.FleetHostState):
        runs = f", runs {r.release}" if r.release else ""
        return _cell(f"Host {r.host}: {r.state.replace('_', ' ')}{runs}" + (f": {r.message}" if r.message else ""))
    fields = ", ".join(
        f"{k}={v}" for k, v in sorted(record_fields(r).items()) if isinstance(v, (str, int, float, bool))
    )
    label = str(r.kind).replace("_", " ").capitalize()
    if isinstance(r, rec.UnknownRecord):
        label = f"Unknown record {r.kind}"
    return _cell(label + (f": {fields}" if fields else ""))


def _source(source: Any, on: Any = None) -> str:
    host = "staging host's" if on == "staging" else "host's"
    return {"release_log": "release log", "host": f"{host} SHA256SUMS.txt"}.get(source, str(source))


def _health_detail(r: rec.Health) -> str:
    parts = [str(r.status) if r.status is not None else "no answer"]
    if r.version:
        parts.append(f"version {r.version}")
    if r.latency_ms is not None:
        parts.append(f"{r.latency_ms} ms")
    return ", ".join(parts)


def _decision(state: IncidentState) -> str:
    latest = state.decisions
    outcome = state.outcome
    if outcome and outcome.path:
        steps = [(p.get("question_id"), p.get("answer")) for p in outcome.path]
    else:
        # An answer withdrawn with Back (and not given again) is off the path.
        steps = [(q, latest[q].answer) for q in latest if q in state.answers]
    lines = ["## Decision path"]
    if steps:
        lines.append("")
        for i, (qid, answer) in enumerate(steps, 1):
            d = latest.get(qid)
            who = f" ({d.by}, {_time(d.ts, False)})" if d else ""
            lines.append(f"{i}. {_cell((d.question if d else None) or qid)} — **{_yes_no(answer)}**{who}")
    if outcome:
        lines.append("")
        chosen = OUTCOME_LABELS.get(outcome.outcome, outcome.outcome)
        lines.append(f"**Decision:** {chosen} (by {_cell(outcome.by)}).")
        if outcome.overridden:
            lines.append("")
            lines.append(
                f"**Overridden:** the decision tree was overridden. Reason: "
                f"{_cell(outcome.reason or 'no reason given')}"
            )
    elif not steps:
        lines += ["", "_No decision recorded._"]
    marks: dict[str, dict] = {}
    for mark in (r for r in state.records if isinstance(r, rec.MatrixMark)):
        marks.setdefault(mark.condition, {})[mark.column] = mark.marked
    if marks:
        rows = [
            [_cell(cond), "✅" if cols.get("rollback") else "⚪", "✅" if cols.get("hotfix") else "⚪"]
            for cond, cols in marks.items()
        ]
        lines += ["", "### Action matrix", "", _table(["Condition", "Rollback", "Hotfix"], rows)]
    return "\n".join(lines)


def _checklist(state: IncidentState) -> str:
    if not state.ticks:
        return "## Checklist\n\n_No checklist items recorded._"
    rows = []
    for r in state.ticks.values():  # latest state wins, first-seen order kept
        note = r.detail
        if r.status == "waived":
            note = f"waived: {r.reason or 'no reason given'}"
        elif r.reason:
            note = f"{note}; {r.reason}" if note else r.reason
        rows.append(
            [
                _cell(r.title),
                _cell(r.group),
                _cell(r.status),
                _cell(r.how),
                _cell(r.by),
                _time(r.ts, False),
                _cell(note),
            ]
        )
    return "## Checklist\n\n" + _table(["Item", "Group", "Status", "How", "By", "When", "Detail"], rows)


def _commands(state: IncidentState) -> str:
    rows: list[list[str]] = []
    open_steps: dict[str, list[str]] = {}
    for r in state.records:
        if isinstance(r, rec.ProcedureStarted):
            open_steps.clear()
        elif isinstance(r, rec.StepStarted):
            # Checks done by the console itself have no argv, only a display form.
            command = _code(shlex.join(r.argv)) if r.argv else (_code(r.command) if r.command else "—")
            flag = " ⚠" if r.destructive else ""
            row = [str(len(rows) + 1), _cell(r.step_id) + flag, command, "—", "—", "running", "—"]
            rows.append(row)
            open_steps[r.step_id] = row
        elif isinstance(r, (rec.StepFinished, rec.StepFailed)):
            if r.step_id in open_steps:
                row = open_steps.pop(r.step_id)
            else:
                row = [str(len(rows) + 1), _cell(r.step_id), "—", "—", "—", "", "—"]
                rows.append(row)
            row[3] = _cell(r.exit_code)
            row[4] = _seconds(r.duration)
            if isinstance(r, rec.StepFinished):
                row[5] = "ok"
                if r.sha256:
                    row[6] = f"{_code(r.output or '')} sha256 `{r.sha256[:12]}`"
            else:
                row[5] = _cell(f"failed: {r.reason_label}" + (f" — {r.message}" if r.message else ""))
        elif isinstance(r, rec.StepSkipped):
            rows.append(
                [
                    str(len(rows) + 1),
                    _cell(r.step_id),
                    "—",
                    "—",
                    "—",
                    _cell(f"skipped{' (optional)' if r.optional else ''} by {r.by}: {r.reason}"),
                    "—",
                ]
            )
    if not rows:
        return "## Commands\n\n_No commands were run._"
    note = "\n\n⚠ marks a destructive step."
    return (
        "## Commands\n\n"
        + _table(["#", "Step", "Command", "Exit", "Duration", "Result", "Output"], rows)
        + (note if any("⚠" in row[1] for row in rows) else "")
    )


def _artifacts(state: IncidentState) -> str:
    if not state.artifacts:
        return "## Artifact hashes\n\n_No artifacts were checked._"
    rows = [
        [
            _cell(a.tag),
            _code(str(a.file)),
            _code(str(a.sha256)),
            "yes" if a.verified else "**NO**",
            _cell(_source(a.source, a.on)),
        ]
        for a in state.artifacts
    ]
    return "## Artifact hashes\n\n" + _table(["Tag", "File", "sha256", "Verified", "Against"], rows)


def _migration_sentence(r: rec.MigrationDecision) -> str:
    if r.action == "rolled_back":
        undone = ", ".join(r.undone or []) or "nothing"
        return f"rolled back from {r.from_head} to {r.to_head} (undid {undone})"
    if r.action == "none_needed":
        return f"no rollback needed (schema already at {r.to_head or r.from_head})"
    if r.action == "skipped":
        return f"rollback skipped: {r.reason or 'no reason given'}"
    return str(r.action)


def _migration(state: IncidentState) -> str:
    decision = state.migration_decision
    if decision is None:
        return "## Migration decision\n\n_No migration decision recorded._"
    rows = [
        ["Decision", _cell(_migration_sentence(decision))],
        ["Schema before", _cell(decision.from_head)],
        ["Target schema", _cell(decision.to_head)],
        ["Undone", _cell(", ".join(decision.undone or []))],
        ["Reason", _cell(decision.reason)],
        ["By", _cell(decision.by)],
    ]
    return "## Migration decision\n\n" + _table(["", ""], rows)


def _health(state: IncidentState) -> str:
    latest: dict[str, rec.Health] = {}
    for record in state.health:
        where = f" ({record.on})" if record.on and record.on != "target" else ""  # staging, a fleet host
        latest[f"{record.check}{where}"] = record
    if not latest:
        return ""
    rows = [
        [
            _cell(c),
            "healthy" if r.ok else "**unhealthy**",
            _cell(r.status),
            _cell(r.version),
            _cell(r.latency_ms),
            _time(r.ts, False),
        ]
        for c, r in latest.items()
    ]
    return "## Health (last check)\n\n" + _table(["Check", "State", "HTTP", "Version", "Latency ms", "At"], rows)


def _notifications(state: IncidentState) -> str:
    latest: dict[tuple, rec.Notification] = {}
    errors: dict[tuple, str] = {}
    for record in state.notifications:
        latest[(record.channel, record.event)] = record
        if record.error:
            errors[(record.channel, record.event)] = record.error
    if not latest:
        return ""
    rows = [
        [_cell(channel), _cell(event), _cell(r.status), _cell(r.attempts), _cell(errors.get((channel, event)))]
        for (channel, event), r in latest.items()
    ]
    return "## Notifications\n\n" + _table(["Channel", "Event", "Status", "Attempts", "Last error"], rows)


def _ttr(state: IncidentState) -> str:
    seconds, target, resolved = _ttr_numbers(state)
    if seconds is None:
        return "## Time to recover\n\n_Unknown (the incident was never opened)._"
    text = _ttr_verdict(seconds, target)
    if not resolved:
        text += ", and the incident is still open"
    finished = state.finished
    lines = ["## Time to recover", "", text[0].upper() + text[1:] + "."]
    if finished is not None and finished.duration is not None:
        lines += [
            "",
            f"The {TITLES.get(finished.procedure, '').lower() or 'procedure'} itself took "
            f"{format_duration(float(finished.duration))}.",
        ]
    return "\n".join(lines)


def _retro(state: IncidentState) -> str:
    retro = state.retro or rec.Retro()
    actions = [a for a in (retro.action_items or []) if str(a).strip()]
    lines = [
        "## Retro",
        "",
        "### Root cause",
        "",
        _paragraph(retro.root_cause),
        "",
        "### Detection gaps",
        "",
        _paragraph(retro.detection_gaps),
        "",
        "### Action items",
        "",
    ]
    lines += [f"- [ ] {' '.join(str(a).split())}" for a in actions] or [PLACEHOLDER]
    if retro.by:
        lines += ["", f"_Retro notes by {retro.by}, {_time(retro.ts)}._"]
    return "\n".join(lines)


def _paragraph(text: Any) -> str:
    if text is None or not str(text).strip():
        return PLACEHOLDER
    return str(text).strip()
