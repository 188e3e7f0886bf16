"""Follow-up items a machine can tell are done, from the incident's own journal.

The runbook's follow-up (section 6) is mostly evidence the console itself produced:
the resolution reached Slack and the status page, a retro was written, the release
log got the artifact hashes and migration decision. Those are ticked automatically
(with what proves them); anything else stays a hand tick.
"""

from __future__ import annotations

from console.journal import Journal, parse_iso

GROUP = "Communication & follow-up"


def automatic_evidence(journal: Journal) -> dict[str, str]:
    """item id → what in the journal shows it is done (only items that are)."""
    found: dict[str, str] = {}
    for record in journal.records():
        kind = record["type"]
        if kind == "notification" and record.get("event") == "incident_resolved" and record.get("status") == "sent":
            item = {"slack": "resolution_posted", "statuspage": "status_page_resolved"}.get(record.get("channel"))
            if item:
                found[item] = f"{record['channel']} accepted the resolution at {_clock(record)}"
        elif kind == "retro" and (record.get("root_cause") or "").strip() and record.get("action_items"):
            found["retro_created"] = (f"retro saved by {record.get('by')} at {_clock(record)} "
                                      f"({len(record['action_items'])} action items)")
        elif kind == "release_log":
            bad = f", {record['marked_bad']} marked bad" if record.get("marked_bad") else ""
            found["release_log_updated"] = f"release log: {record.get('deployed')} deployed{bad}, hashes attached"
    return found


def record_automatic_ticks(journal: Journal, items, states: dict[str, dict]) -> list[str]:
    """Journal an automatic tick for each item the journal proves done and nobody has ticked
    or unticked yet; returns the ids ticked now."""
    evidence = automatic_evidence(journal)
    ticked = []
    for item in items:
        if item.id in evidence and item.id not in states:
            journal.record("checklist", item_id=item.id, group=GROUP, title=item.title, status="done",
                           how="auto", by="incident-console", detail=evidence[item.id], reason="")
            ticked.append(item.id)
    return ticked


def _clock(record: dict) -> str:
    return f"{parse_iso(record['ts']):%H:%M:%S}"
