"""The incident report: a Markdown story of one incident, rebuilt from its journal.

``render_report(Journal(dir).records())`` is pure and deterministic: the same
journal always gives the same text (a golden-file test keeps it so), and the
report adds nothing the journal does not hold, so secrets stay out of it the
way they stay out of the journal. It covers what the runbook's follow-up asks
for: the timeline, the decision and its reasons, the checklist, every command
with its result, artifact hashes, the migration decision, the time to recover
against its target, and the retro (root cause, detection gaps, action items).
"""

from __future__ import annotations

import shlex
from typing import Any, Iterable

from console.incidents import incident_procedure
from console.journal import parse_iso
from console.notify.messages import OUTCOME_LABELS, format_duration
from console.observability.report_section import metrics_section
from console.secrets import Secret, redact_text

PLACEHOLDER = "_to be filled in_"
TITLES = {"rollback": "Rollback", "config_hotfix": "Configuration hotfix", "code_hotfix": "Code hotfix",
          "verify": "Verification"}


def render_report(records: Iterable[dict], *, title: str | None = None,
                  secrets: list[Secret] | None = None) -> str:
    records = sorted(records, key=lambda r: r.get("seq", 0))
    sections = [
        _summary(records, title),
        _timeline(records),
        _decision(records),
        _checklist(records),
        _commands(records),
        _artifacts(records),
        _migration(records),
        _health(records),
        metrics_section(records),
        _notifications(records),
        _ttr(records),
        _retro(records),
    ]
    text = "\n\n".join(s for s in sections if s) + "\n"
    # Belt and braces: the journal is scrubbed already, but a caller that knows
    # live secret values can have them struck from the text too.
    return redact_text(text, secrets or [])


# -- helpers -------------------------------------------------------------------

def _last(records: list[dict], type_: str) -> dict | None:
    found = None
    for record in records:
        if record.get("type") == type_:
            found = record
    return found


def _of(records: list[dict], type_: str) -> list[dict]:
    return [r for r in records if r.get("type") == type_]


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


def _tags(records: list[dict]) -> tuple[str | None, str | None]:
    started, _ = incident_procedure(records)
    if started is not None:
        return started.get("from_tag"), started.get("to_tag")
    return (_last(records, "incident_opened") or {}).get("deployed"), None


def _main_procedure(records: list[dict]) -> tuple[dict | None, dict | None]:
    """The incident's own procedure and how it finished (None while it runs or was left)."""
    started, ended = incident_procedure(records)
    return started, ended if ended is not None and ended["type"] == "procedure_finished" else None


def _ttr_numbers(records: list[dict]) -> tuple[float | None, float | None, bool]:
    """(seconds, target seconds, resolved?)."""
    opened = _last(records, "incident_opened")
    resolved = _last(records, "incident_resolved")
    target = opened.get("ttr_target_minutes") if opened else None
    target_s = float(target) * 60 if target is not None else None
    if resolved is not None and resolved.get("ttr_seconds") is not None:
        return float(resolved["ttr_seconds"]), target_s, True
    if opened is None or not records:
        return None, target_s, False
    elapsed = (parse_iso(records[-1]["ts"]) - parse_iso(opened["ts"])).total_seconds()
    return elapsed, target_s, False


def _ttr_verdict(seconds: float, target: float | None) -> str:
    if target is None:
        return format_duration(seconds)
    if seconds <= target:
        return (f"{format_duration(seconds)} against a {format_duration(target)} target: "
                f"met ({format_duration(target - seconds)} to spare)")
    return (f"{format_duration(seconds)} against a {format_duration(target)} target: "
            f"missed by {format_duration(seconds - target)}")


# -- sections ------------------------------------------------------------------

def _summary(records: list[dict], title: str | None) -> str:
    opened = _last(records, "incident_opened") or {}
    outcome = _last(records, "outcome") or {}
    resolved = _last(records, "incident_resolved")
    started, finished = _main_procedure(records)
    from_tag, to_tag = _tags(records)
    incident_id = opened.get("incident_id", "unknown")
    choice = outcome.get("outcome") or (started or {}).get("procedure")
    label = TITLES.get(choice, choice.replace("_", " ").capitalize() if choice else "No decision yet")
    move = f"{from_tag} → {to_tag}" if from_tag and to_tag else (from_tag or to_tag or "—")
    if title is None:
        title = f"Incident {incident_id}: {label.lower() if choice else 'open'}" + (
            f" {move}" if from_tag and to_tag else "")
    if finished is not None:
        result = finished.get("outcome", "finished")
    elif started is not None:
        result = "not finished"
    else:
        result = "not started"
    if started is not None and started.get("dry_run"):
        result += " (dry run)"
    seconds, target, is_resolved = _ttr_numbers(records)
    if seconds is None:
        ttr = "—"
    else:
        ttr = _ttr_verdict(seconds, target) + ("" if is_resolved else " (still open)")
    rows = [
        ["Incident", _code(incident_id)],
        ["Project", _cell(opened.get("project"))],
        ["Target", _code(opened["target"]) if opened.get("target") else "—"],
        ["Operator", _cell(opened.get("operator"))],
        ["Outcome", _cell(f"{label} — {result}")],
        ["Release", _cell(move)],
        ["Opened", _time(opened.get("ts"))],
        ["Resolved", (f"{_time(resolved['ts'])} by {_cell(resolved.get('by'))}" if resolved else "not yet")],
        ["Time to recover", _cell(ttr)],
    ]
    text = f"# {title}\n\n## Summary\n\n" + _table(["", ""], rows)
    if resolved and resolved.get("summary"):
        text += "\n\n> " + " ".join(str(resolved["summary"]).split())
    return text


def _timeline(records: list[dict]) -> str:
    dates = {parse_iso(r["ts"]).date() for r in records if r.get("ts")}
    with_date = len(dates) > 1
    heading = "## Timeline (UTC" + ("" if with_date or not dates else f", {min(dates).isoformat()}") + ")"
    rows = []
    health_state: dict[str, Any] = {}
    for record in records:
        kind = record.get("type")
        if kind == "health":
            # Polling repeats itself; only changes of state tell the story.
            check = (record.get("on", "target"), record.get("check"))
            if health_state.get(check) == record.get("ok"):
                continue
            health_state[check] = record.get("ok")
        line = _timeline_line(record)
        if line:
            rows.append([_time(record.get("ts"), with_date), line])
    return heading + "\n\n" + (_table(["Time", "Event"], rows) if rows else "_No events recorded._")


def _timeline_line(r: dict) -> str | None:
    kind = r.get("type")
    if kind == "incident_opened":
        return _cell(f"Incident opened by {r.get('operator')} on {r.get('target')} "
                     f"({r.get('deployed')} deployed)")
    if kind == "decision":
        return _cell(f"{r.get('question')} — {_yes_no(r.get('answer'))} ({r.get('by')})")
    if kind == "decision_retracted":
        was = f" — was {_yes_no(r.get('answer'))}" if r.get("answer") is not None else ""
        return _cell(f"Answer withdrawn (Back): {r.get('question') or r.get('question_id')}{was} ({r.get('by')})")
    if kind == "outcome":
        text = f"Chose {OUTCOME_LABELS.get(r.get('outcome'), r.get('outcome'))} ({r.get('by')})"
        if r.get("overridden"):
            text += f", overriding the decision tree: {r.get('reason') or 'no reason given'}"
        return _cell(text)
    if kind == "matrix_mark":
        mark = "marked" if r.get("marked") else "unmarked"
        return _cell(f"Action matrix: {r.get('condition')} → {r.get('column')} {mark} ({r.get('by')})")
    if kind == "checklist":
        text = f"Checklist: {r.get('title')} — {r.get('status')} ({r.get('how')}, {r.get('by')})"
        if r.get("status") == "waived" and r.get("reason"):
            text += f": {r.get('reason')}"
        return _cell(text)
    if kind == "procedure_started":
        dry = " (dry run)" if r.get("dry_run") else ""
        move = f": {r.get('from_tag')} → {r.get('to_tag')}" if r.get("from_tag") else (
            f": {r.get('to_tag')}" if r.get("to_tag") else "")
        return _cell(f"{TITLES.get(r.get('procedure'), r.get('procedure'))} started{move}{dry}")
    if kind == "step_finished":
        return _cell(f"Step {r.get('step_id')} done (exit {r.get('exit_code')}, {_seconds(r.get('duration'))})")
    if kind == "step_failed":
        return _cell(f"Step {r.get('step_id')} failed: {str(r.get('reason', '')).replace('_', ' ')}"
                     + (f" — {r.get('message')}" if r.get("message") else ""))
    if kind == "step_skipped":
        return _cell(f"Step {r.get('step_id')} skipped by {r.get('by')}: {r.get('reason')}")
    if kind == "procedure_finished":
        return _cell(f"{TITLES.get(r.get('procedure'), r.get('procedure'))} {r.get('outcome')} "
                     f"in {format_duration(float(r.get('duration') or 0))}")
    if kind == "procedure_interrupted":
        at = f" at step {r.get('step_id')}" if r.get("step_id") else ""
        return _cell(f"{TITLES.get(r.get('procedure'), r.get('procedure'))} interrupted{at} "
                     f"after {format_duration(float(r.get('duration') or 0))}; left to be resumed")
    if kind == "artifact":
        state = "verified" if r.get("verified") else "NOT verified"
        return _cell(f"Artifact {r.get('file')} ({r.get('tag')}) {state} against the "
                     f"{_source(r.get('source'), r.get('on'))}")
    if kind == "migration_decision":
        return _cell(f"Migrations: {_migration_sentence(r)}")
    if kind == "health":
        state = "healthy" if r.get("ok") else "unhealthy"
        where = " on staging" if r.get("on") == "staging" else ""
        return _cell(f"Health check {r.get('check')}{where}: {state} ({_health_detail(r)})")
    if kind == "notification":
        if r.get("status") == "queued":
            return None  # retries are in the notifications table
        return _cell(f"Notification to {r.get('channel')} ({r.get('event')}): {r.get('status')}")
    if kind == "retro":
        return _cell(f"Retro notes recorded by {r.get('by')}")
    if kind == "incident_resolved":
        return _cell(f"Incident resolved by {r.get('by')}")
    if kind in ("step_started", "step_confirmed"):
        return None
    if kind == "note":
        return _cell(f"Note by {r.get('by', '?')}: {r.get('text', '')}")
    fields = ", ".join(f"{k}={v}" for k, v in sorted(r.items())
                       if k not in ("seq", "ts", "type") and isinstance(v, (str, int, float, bool)))
    return _cell(f"{str(kind).replace('_', ' ').capitalize()}" + (f": {fields}" if fields else ""))


def _source(source: Any, on: Any = None) -> str:
    host = "staging host's" if on == "staging" else "host's"
    return {"release_log": "release log", "host": f"{host} SHA256SUMS.txt"}.get(source, str(source))


def _health_detail(r: dict) -> str:
    parts = [str(r.get("status")) if r.get("status") is not None else "no answer"]
    if r.get("version"):
        parts.append(f"version {r['version']}")
    if r.get("latency_ms") is not None:
        parts.append(f"{r['latency_ms']} ms")
    return ", ".join(parts)


def _decision(records: list[dict]) -> str:
    decisions = _of(records, "decision")
    outcome = _last(records, "outcome")
    latest = {d.get("question_id"): d for d in decisions}
    # An answer withdrawn with Back (and not given again) is off the path.
    answered: dict[Any, dict] = {}
    for r in records:
        if r.get("type") == "decision":
            answered[r.get("question_id")] = r
        elif r.get("type") == "decision_retracted":
            answered.pop(r.get("question_id"), None)
    if outcome and outcome.get("path"):
        steps = [(p.get("question_id"), p.get("answer")) for p in outcome["path"]]
    else:
        seen: list[str] = []
        for d in decisions:
            if d.get("question_id") not in seen and d.get("question_id") in answered:
                seen.append(d.get("question_id"))
        steps = [(q, latest[q].get("answer")) for q in seen]
    lines = ["## Decision path"]
    if steps:
        lines.append("")
        for i, (qid, answer) in enumerate(steps, 1):
            d = latest.get(qid, {})
            who = f" ({d.get('by')}, {_time(d.get('ts'), False)})" if d else ""
            lines.append(f"{i}. {_cell(d.get('question') or qid)} — **{_yes_no(answer)}**{who}")
    if outcome:
        lines.append("")
        chosen = OUTCOME_LABELS.get(outcome.get("outcome"), outcome.get("outcome"))
        lines.append(f"**Decision:** {chosen} (by {_cell(outcome.get('by'))}).")
        if outcome.get("overridden"):
            lines.append("")
            lines.append(f"**Overridden:** the decision tree was overridden. Reason: "
                         f"{_cell(outcome.get('reason') or 'no reason given')}")
    elif not steps:
        lines += ["", "_No decision recorded._"]
    marks: dict[str, dict] = {}
    for mark in _of(records, "matrix_mark"):
        marks.setdefault(mark.get("condition"), {})[mark.get("column")] = mark.get("marked")
    if marks:
        rows = [[_cell(cond), "✅" if cols.get("rollback") else "⚪", "✅" if cols.get("hotfix") else "⚪"]
                for cond, cols in marks.items()]
        lines += ["", "### Action matrix", "", _table(["Condition", "Rollback", "Hotfix"], rows)]
    return "\n".join(lines)


def _checklist(records: list[dict]) -> str:
    items: dict[str, dict] = {}
    for record in _of(records, "checklist"):
        items[record.get("item_id")] = record  # latest state wins, first-seen order kept
    if not items:
        return "## Checklist\n\n_No checklist items recorded._"
    rows = []
    for r in items.values():
        note = r.get("detail")
        if r.get("status") == "waived":
            note = f"waived: {r.get('reason') or 'no reason given'}"
        elif r.get("reason"):
            note = f"{note}; {r.get('reason')}" if note else r.get("reason")
        rows.append([_cell(r.get("title")), _cell(r.get("group")), _cell(r.get("status")), _cell(r.get("how")),
                     _cell(r.get("by")), _time(r.get("ts"), False), _cell(note)])
    return "## Checklist\n\n" + _table(["Item", "Group", "Status", "How", "By", "When", "Detail"], rows)


def _commands(records: list[dict]) -> str:
    rows = []
    open_steps: dict[str, list[str]] = {}
    for r in records:
        kind = r.get("type")
        if kind == "procedure_started":
            open_steps.clear()
        elif kind == "step_started":
            argv = r.get("argv")
            # Checks done by the console itself have no argv, only a display form.
            command = _code(shlex.join(argv)) if argv else (_code(r["command"]) if r.get("command") else "—")
            flag = " ⚠" if r.get("destructive") else ""
            row = [str(len(rows) + 1), _cell(r.get("step_id")) + flag, command, "—", "—", "running", "—"]
            rows.append(row)
            open_steps[r.get("step_id")] = row
        elif kind in ("step_finished", "step_failed"):
            row = open_steps.pop(r.get("step_id"), None)
            if row is None:
                row = [str(len(rows) + 1), _cell(r.get("step_id")), "—", "—", "—", "", "—"]
                rows.append(row)
            row[3] = _cell(r.get("exit_code"))
            row[4] = _seconds(r.get("duration"))
            if kind == "step_finished":
                row[5] = "ok"
                if r.get("sha256"):
                    row[6] = f"{_code(r.get('output') or '')} sha256 `{r['sha256'][:12]}`"
            else:
                reason = str(r.get("reason", "failed")).replace("_", " ")
                row[5] = _cell(f"failed: {reason}" + (f" — {r.get('message')}" if r.get("message") else ""))
        elif kind == "step_skipped":
            rows.append([str(len(rows) + 1), _cell(r.get("step_id")), "—", "—", "—",
                         _cell(f"skipped by {r.get('by')}: {r.get('reason')}"), "—"])
    if not rows:
        return "## Commands\n\n_No commands were run._"
    note = "\n\n⚠ marks a destructive step."
    return ("## Commands\n\n" + _table(["#", "Step", "Command", "Exit", "Duration", "Result", "Output"], rows)
            + (note if any("⚠" in row[1] for row in rows) else ""))


def _artifacts(records: list[dict]) -> str:
    artifacts = _of(records, "artifact")
    if not artifacts:
        return "## Artifact hashes\n\n_No artifacts were checked._"
    rows = [[_cell(a.get("tag")), _code(str(a.get("file"))), _code(str(a.get("sha256"))),
             "yes" if a.get("verified") else "**NO**", _cell(_source(a.get("source"), a.get("on")))]
            for a in artifacts]
    return "## Artifact hashes\n\n" + _table(["Tag", "File", "sha256", "Verified", "Against"], rows)


def _migration_sentence(r: dict) -> str:
    action = r.get("action")
    if action == "rolled_back":
        undone = ", ".join(r.get("undone") or []) or "nothing"
        return f"rolled back from {r.get('from_head')} to {r.get('to_head')} (undid {undone})"
    if action == "none_needed":
        return f"no rollback needed (schema already at {r.get('to_head') or r.get('from_head')})"
    if action == "skipped":
        return f"rollback skipped: {r.get('reason') or 'no reason given'}"
    return str(action)


def _migration(records: list[dict]) -> str:
    decision = _last(records, "migration_decision")
    if decision is None:
        return "## Migration decision\n\n_No migration decision recorded._"
    rows = [["Decision", _cell(_migration_sentence(decision))],
            ["Schema before", _cell(decision.get("from_head"))],
            ["Target schema", _cell(decision.get("to_head"))],
            ["Undone", _cell(", ".join(decision.get("undone") or []))],
            ["Reason", _cell(decision.get("reason"))],
            ["By", _cell(decision.get("by"))]]
    return "## Migration decision\n\n" + _table(["", ""], rows)


def _health(records: list[dict]) -> str:
    latest: dict[str, dict] = {}
    for record in _of(records, "health"):
        where = " (staging)" if record.get("on") == "staging" else ""
        latest[f"{record.get('check')}{where}"] = record
    if not latest:
        return ""
    rows = [[_cell(c), "healthy" if r.get("ok") else "**unhealthy**", _cell(r.get("status")),
             _cell(r.get("version")), _cell(r.get("latency_ms")), _time(r.get("ts"), False)]
            for c, r in latest.items()]
    return "## Health (last check)\n\n" + _table(["Check", "State", "HTTP", "Version", "Latency ms", "At"], rows)


def _notifications(records: list[dict]) -> str:
    latest: dict[tuple, dict] = {}
    for record in _of(records, "notification"):
        latest[(record.get("channel"), record.get("event"))] = record
    if not latest:
        return ""
    rows = []
    for (channel, event), r in latest.items():
        errors = [n.get("error") for n in _of(records, "notification")
                  if (n.get("channel"), n.get("event")) == (channel, event) and n.get("error")]
        rows.append([_cell(channel), _cell(event), _cell(r.get("status")), _cell(r.get("attempts")),
                     _cell(errors[-1] if errors else None)])
    return "## Notifications\n\n" + _table(["Channel", "Event", "Status", "Attempts", "Last error"], rows)


def _ttr(records: list[dict]) -> str:
    seconds, target, resolved = _ttr_numbers(records)
    if seconds is None:
        return "## Time to recover\n\n_Unknown (the incident was never opened)._"
    text = _ttr_verdict(seconds, target)
    if not resolved:
        text += ", and the incident is still open"
    started, finished = _main_procedure(records)
    lines = ["## Time to recover", "", text[0].upper() + text[1:] + "."]
    if finished is not None and finished.get("duration") is not None:
        lines += ["", f"The {TITLES.get(finished.get('procedure'), '').lower() or 'procedure'} itself took "
                      f"{format_duration(float(finished['duration']))}."]
    return "\n".join(lines)


def _retro(records: list[dict]) -> str:
    retro = _last(records, "retro") or {}
    actions = [a for a in (retro.get("action_items") or []) if str(a).strip()]
    lines = ["## Retro", "", "### Root cause", "", _paragraph(retro.get("root_cause")),
             "", "### Detection gaps", "", _paragraph(retro.get("detection_gaps")),
             "", "### Action items", ""]
    lines += [f"- [ ] {' '.join(str(a).split())}" for a in actions] or [PLACEHOLDER]
    if retro.get("by"):
        lines += ["", f"_Retro notes by {retro['by']}, {_time(retro.get('ts'))}._"]
    return "\n".join(lines)


def _paragraph(text: Any) -> str:
    if text is None or not str(text).strip():
        return PLACEHOLDER
    return str(text).strip()
