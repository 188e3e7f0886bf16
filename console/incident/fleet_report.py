"""The report's fleet section: the rollout's outline, each host's final state, each host's timeline.

A fleet incident's step ids name their host (``"web2:compose_up"``, console.engine.fleet_ids),
its ``fleet_wave`` records outline the rollout (preflight, lock, canary, gate, batches) and its
``fleet_host`` records say where each host stands (the latest per host is
``IncidentState.fleet_hosts``). A single host's incident has none of them: the section is empty
and its report unchanged.
"""

from __future__ import annotations

from typing import Any

from console.engine.fleet_ids import split_step_id
from console.incident import records as rec
from console.incident.records import Record, parse_iso
from console.incident.state import IncidentState

STATE_WORDS = {
    "untouched": "untouched",
    "preflight_ok": "preflight passed, unchanged",
    "running": "running (stopped part-way)",
    "done": "done",
    "failed": "**failed**",
    "not_started": "not started (left as it was)",
}


def _time(ts: str | None, with_date: bool) -> str:
    if not ts:
        return "?"
    return parse_iso(ts).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return " ".join(str(value).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _host_of(record: Record) -> str | None:
    """The fleet host a record belongs to, or None (fleet-wide, or a single host's)."""
    if isinstance(record, rec.FleetHostState):
        return record.host or None
    step_id = getattr(record, "step_id", None)
    if isinstance(step_id, str) and step_id:
        return split_step_id(step_id)[0]
    return None


def fleet_hosts_in(state: IncidentState) -> list[str]:
    """The fleet's hosts in rollout order: as the waves name them, then any other host seen."""
    hosts: dict[str, None] = {}
    for wave in state.fleet_waves:
        if wave.wave in ("canary", "batch"):
            hosts.update(dict.fromkeys(str(h) for h in wave.hosts))
    for wave in state.fleet_waves:
        hosts.update(dict.fromkeys(str(h) for h in wave.hosts))
    hosts.update(dict.fromkeys(state.fleet_hosts))
    for record in state.records:
        host = _host_of(record)
        if host:
            hosts.setdefault(host, None)
    return list(hosts)


def fleet_section(state: IncidentState) -> str:
    """The "Fleet" section, or "" for an incident on a single host."""
    hosts = fleet_hosts_in(state)
    if not hosts:
        return ""
    dates = {parse_iso(r.ts).date() for r in state.records if r.ts}
    with_date = len(dates) > 1
    parts = [f"## Fleet ({len(hosts)} hosts)"]
    if state.fleet_waves:
        rows = [
            [
                _time(w.ts, with_date),
                _cell(f"{w.wave} {w.index}" if w.wave == "batch" else w.wave),
                _cell(", ".join(str(h) for h in w.hosts)),
                _cell(w.status),
                _cell(w.message),
            ]
            for w in state.fleet_waves
        ]
        parts.append("### Rollout\n\n" + _table(["Time", "Wave", "Hosts", "Status", "Message"], rows))
    rows = []
    for host in hosts:
        final = state.fleet_hosts.get(host)
        if final is None:
            rows.append([_cell(host), "—", "—", "—", "no state recorded"])
            continue
        step = split_step_id(final.step_id)[1] if final.step_id else None
        rows.append(
            [
                _cell(host),
                STATE_WORDS.get(final.state, _cell(final.state)),
                _cell(final.release),
                _cell(step),
                _cell(final.message),
            ]
        )
    parts.append("### Where each host stands\n\n" + _table(["Host", "State", "Runs", "Last step", "Message"], rows))
    for host in hosts:
        parts.append(f"### Timeline of {host}\n\n" + host_timeline(state, host, with_date))
    return "\n\n".join(parts)


def host_timeline(state: IncidentState, host: str, with_date: bool = False) -> str:
    """One host's steps (start time, result, duration), its state changes, health and artifacts."""
    rows: list[list[str]] = []
    running: dict[str, list[str]] = {}  # step id -> its row, until its result
    health: dict[str, bool] = {}
    for r in state.records:
        if isinstance(r, rec.Health) and r.on == host:
            if health.get(r.check) == r.ok:
                continue  # polling repeats itself; only changes tell the story
            health[r.check] = r.ok
            answer = "no answer" if r.status is None else str(r.status)
            version = f", version {r.version}" if r.version else ""
            verdict = "healthy" if r.ok else "unhealthy"
            rows.append([_time(r.ts, with_date), "health", _cell(f"{r.check}: {verdict} ({answer}{version})"), "—"])
            continue
        if isinstance(r, rec.Artifact) and r.on == host:
            verified = "verified" if r.verified else "NOT verified"
            rows.append([_time(r.ts, with_date), "artifact", _cell(f"{r.file} ({r.tag}) {verified}"), "—"])
            continue
        if _host_of(r) != host:
            continue
        if isinstance(r, rec.FleetHostState):
            release = f", runs {r.release}" if r.release else ""
            message = f": {r.message}" if r.message else ""
            rows.append([_time(r.ts, with_date), "state", _cell(f"{r.state.replace('_', ' ')}{release}{message}"), "—"])
        elif isinstance(r, rec.StepStarted):
            row = [_time(r.ts, with_date), _cell(split_step_id(r.step_id)[1]), "running", "—"]
            rows.append(row)
            running[r.step_id] = row
        elif isinstance(r, (rec.StepFinished, rec.StepFailed)):
            started = running.pop(r.step_id, None)
            if started is None:
                started = [_time(r.ts, with_date), _cell(split_step_id(r.step_id)[1]), "", "—"]
                rows.append(started)
            row = started
            row[3] = f"{float(r.duration or 0):.1f} s"
            if isinstance(r, rec.StepFinished):
                row[2] = _cell(f"done (exit {r.exit_code})" + (f": {r.summary}" if r.summary else ""))
            else:
                row[2] = _cell(f"failed: {r.reason_label}" + (f" — {r.message}" if r.message else ""))
        elif isinstance(r, rec.StepSkipped):
            rows.append(
                [
                    _time(r.ts, with_date),
                    _cell(split_step_id(r.step_id)[1]),
                    _cell(f"skipped by {r.by}: {r.reason}"),
                    "—",
                ]
            )
    if not rows:
        return "_Nothing recorded for this host._"
    return _table(["Time", "What", "Result", "Duration"], rows)
