"""``incident-console incident ...``: every runbook step outside a procedure, without the TUI.

Each subcommand drives the incident's ``IncidentSession`` (the same methods the screens call), so a
script can take an incident from open to resolved; the procedure itself is run by ``rollback``,
``hotfix``, ``config-hotfix`` or ``resume``, which pick an incident opened here up with ``--incident ID``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from console.cli.exit_codes import EXIT_OK, bad_input

EXAMPLES = """\
examples:
  incident-console incident open                       # prints the new incident's id
  incident-console incident decide ID rollback --answer customer_impact=yes
  incident-console rollback --incident ID --yes        # the procedure, journaled in the same incident
  incident-console incident decide ID code_hotfix --answer customer_impact=yes --reason "fix is one line"
  incident-console incident tick ID backup_verified
  incident-console incident waive ID support_informed --reason "told by phone"
  incident-console incident retro ID --root-cause "bad config in v2" --action "add a smoke test"
  incident-console incident resolve ID --summary "rolled back v2 to v1"
  incident-console incident show ID [--json]

Checklist item ids are the runbook's (prerequisites, manual verification, follow-up): `show` lists
them. A decision that differs from the decision tree's outcome needs --reason (it is an override).
"""

VERIFICATION_GROUP = "Post-rollback verification"


def register_incident(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "incident",
        help="open, decide, tick, waive, retro, resolve or show an incident headless",
        description="Every runbook step outside a procedure, without the TUI: the same session "
        "methods the screens call. Run the procedure itself with rollback/hotfix "
        "--incident ID (or resume ID).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = p.add_subparsers(dest="incident_command", metavar="SUBCOMMAND", required=True)

    v = verbs.add_parser("open", help="open a new incident (journaled and announced); prints its id")
    v.add_argument("--deployed", metavar="TAG", help="the deployed release (default: the release log's)")
    v.set_defaults(handler=cmd_open)

    v = verbs.add_parser("show", help="where the incident stands: answers, decision, ticks, procedure, retro")
    v.add_argument("id", metavar="ID", help="the incident's id (incident-console incidents lists them)")
    v.add_argument("--json", action="store_true", help="print the state as one JSON object")
    v.set_defaults(handler=cmd_show)

    v = verbs.add_parser("decide", help="answer the decision tree and journal the outcome (announced)")
    v.add_argument("id", metavar="ID", help="the incident's id (incident-console incidents lists them)")
    v.add_argument("outcome", metavar="OUTCOME", help="rollback | config_hotfix | code_hotfix")
    v.add_argument(
        "--answer",
        action="append",
        default=[],
        metavar="QUESTION=yes|no",
        help="an answer to a decision-tree question (repeat for each question on the path)",
    )
    v.add_argument("--reason", help="why, when OUTCOME overrides the decision tree (required then)")
    v.set_defaults(handler=cmd_decide)

    v = verbs.add_parser("tick", help="tick (or --untick) a checklist item by its runbook id")
    v.add_argument("id", metavar="ID", help="the incident's id (incident-console incidents lists them)")
    v.add_argument("item", metavar="ITEM", help="the checklist item's runbook id (show lists them)")
    v.add_argument("--untick", action="store_true", help="set the item back to pending")
    v.add_argument("--detail", default="", help="what shows it is done (kept in the journal)")
    v.set_defaults(handler=cmd_tick)

    v = verbs.add_parser("waive", help="waive a checklist item, with the reason")
    v.add_argument("id", metavar="ID", help="the incident's id (incident-console incidents lists them)")
    v.add_argument("item", metavar="ITEM", help="the checklist item's runbook id (show lists them)")
    v.add_argument("--reason", required=True, help="why the item does not apply (required)")
    v.set_defaults(handler=cmd_waive)

    v = verbs.add_parser("retro", help="write the retro notes (a later retro replaces the earlier)")
    v.add_argument("id", metavar="ID", help="the incident's id (incident-console incidents lists them)")
    v.add_argument("--root-cause", required=True, help="what went wrong")
    v.add_argument("--detection-gaps", default="", help="what should have caught it earlier")
    v.add_argument("--action", action="append", default=[], metavar="TEXT", help="an action item (repeatable)")
    v.set_defaults(handler=cmd_retro)

    v = verbs.add_parser("resolve", help="resolve the incident with a one-line summary and post it")
    v.add_argument("id", metavar="ID", help="the incident's id (incident-console incidents lists them)")
    v.add_argument("--summary", required=True, help="what was wrong and what fixed it (for #ops and the report)")
    v.add_argument("--no-post", action="store_true", help="journal the resolution without posting it")
    v.add_argument(
        "--keep-silence",
        action="store_true",
        help="keep the incident's Alertmanager silence until it ends by itself (default: expire it)",
    )
    v.set_defaults(handler=cmd_resolve)


def _session(args):
    from console.cli.config_loader import load_config_or_exit
    from console.incident.session import IncidentSession

    config = load_config_or_exit(args.config)
    try:
        return IncidentSession.load(config, args.id)
    except FileNotFoundError as exc:
        raise SystemExit(bad_input(str(exc))) from None


def _runbook(config):
    from console.decide.runbook import load_runbook

    return load_runbook(
        config.paths.runbook,
        {
            "impact_window_minutes": config.thresholds.impact_window_minutes,
            "validation_window_minutes": config.thresholds.validation_window_minutes,
        },
    )


def checklist_items(runbook) -> dict[str, tuple[Any, str]]:
    """item id -> (item, group) over the prerequisites, the manual verification and the follow-up."""
    from console.incident.followup import GROUP as FOLLOW_UP_GROUP

    items: dict[str, tuple[Any, str]] = {i.id: (i, i.group) for i in runbook.prerequisites}
    items.update({i.id: (i, VERIFICATION_GROUP) for i in runbook.manual_verification})
    items.update({i.id: (i, FOLLOW_UP_GROUP) for i in runbook.follow_up})
    return items


def _item(session, item_id: str):
    items = checklist_items(_runbook(session.config))
    if item_id not in items:
        raise SystemExit(bad_input(f"no checklist item {item_id!r}; known: {', '.join(sorted(items))}"))
    return items[item_id]


def cmd_open(args) -> int:
    from console.cli.config_loader import load_config_or_exit
    from console.incident.session import IncidentSession
    from console.release.release_log import ReleaseLog, ReleaseLogError
    from console.validate import UnsafeValue, require_tag

    config = load_config_or_exit(args.config)
    deployed = args.deployed
    try:
        if deployed:
            require_tag(deployed)
        else:
            deployed = ReleaseLog.load(config.paths.release_log).deployed
    except UnsafeValue as exc:
        return bad_input(str(exc))
    except ReleaseLogError as exc:  # as in the TUI: a broken release log does not stop the incident
        print(f"warning: {exc}; the incident records the deployed release as unknown", file=sys.stderr)
        deployed = None
    session = IncidentSession(config, None)

    async def opened() -> str:
        journal = await session.open_incident(deployed)
        await session.flush()
        return journal.incident_id

    print(asyncio.run(opened()))
    return EXIT_OK


def cmd_show(args) -> int:
    session = _session(args)
    state = session.state
    summary = state.summary()
    data = {
        **summary.to_dict(),
        "answers": state.answers,
        "decision": state.outcome.fields() if state.outcome else None,
        "ticks": {i: {"status": t.status, "by": t.by, "reason": t.reason} for i, t in state.ticks.items()},
        "done_steps": sorted(state.settled_steps()),
        "migration_plan": state.migration_plan.fields() if state.migration_plan else None,
        "retro": state.retro.fields() if state.retro else None,
        "resolved": state.resolved.fields() if state.resolved else None,
        "unknown_records": [r.kind for r in state.unknown],
    }
    if args.json:
        print(json.dumps(data, default=str))
        return EXIT_OK
    print(f"incident {summary.id}: {summary.state}  target {summary.target or '-'}  deployed {summary.deployed or '-'}")
    overridden = " (overridden)" if state.outcome and state.outcome.overridden else ""
    print(f"  decision: {state.decided or '-'}{overridden}")
    for qid, answer in state.answers.items():
        print(f"    {qid}: {'yes' if answer else 'no'}")
    if summary.procedure:
        print(
            f"  procedure: {summary.procedure} {summary.from_tag or '?'} -> {summary.to_tag}  "
            f"done: {', '.join(sorted(state.settled_steps())) or '-'}"
        )
    runbook_items = checklist_items(_runbook(session.config))
    print("  checklist:")
    for item_id, (item, group) in runbook_items.items():
        tick = state.ticks.get(item_id)
        status = tick.status if tick else "pending"
        why = f" ({tick.reason})" if tick and tick.reason else ""
        print(f"    [{status:<7}] {item_id}: {item.title} — {group}{why}")
    print(f"  retro: {'written by ' + state.retro.by if state.retro else '-'}")
    if state.resolved:
        print(f"  resolved by {state.resolved.by}: {state.resolved.summary}")
    for record in state.unknown:
        print(f"  unknown record kind {record.kind!r} at seq {record.seq} (kept; a newer console wrote it?)")
    return EXIT_OK


def _parse_answers(runbook, answers: list[str]) -> dict[str, bool]:
    parsed: dict[str, bool] = {}
    for text in answers:
        qid, sep, value = text.partition("=")
        if not sep or value.lower() not in ("yes", "no", "y", "n", "true", "false"):
            raise SystemExit(bad_input(f"--answer takes QUESTION=yes|no, not {text!r}"))
        if qid not in runbook.questions:
            raise SystemExit(bad_input(f"no decision-tree question {qid!r}; known: {', '.join(runbook.questions)}"))
        parsed[qid] = value.lower() in ("yes", "y", "true")
    return parsed


def cmd_decide(args) -> int:
    from console.incident.session import SessionError

    session = _session(args)
    runbook = _runbook(session.config)
    if args.outcome not in runbook.outcomes:
        return bad_input(f"no outcome {args.outcome!r}; choose one of {', '.join(runbook.outcomes)}")
    answers = _parse_answers(runbook, args.answer)
    if session.state.resolved is not None:
        return bad_input(f"incident {session.incident_id} is resolved; open a new one")
    for qid, answer in answers.items():
        session.answer(qid, runbook.questions[qid].text, answer)
    evaluation = runbook.evaluate(dict(session.state.answers))
    overridden = evaluation.outcome is not None and evaluation.outcome != args.outcome
    if evaluation.outcome is None and not (args.reason or "").strip():
        return bad_input(
            f"the decision tree is not finished (next question: {evaluation.next_question}); "
            f"answer it with --answer, or give --reason to decide without it"
        )
    marked = session.state.marked_conditions(
        {r.condition: r.id for r in runbook.matrix}, {r.id for r in runbook.matrix}
    )
    try:
        session.decide(
            args.outcome,
            path=[{"question_id": q, "answer": a} for q, a in evaluation.path],
            overridden=overridden or evaluation.outcome is None,
            reason=args.reason,
            tree_outcome=evaluation.outcome,
            matrix_agrees=runbook.matrix_agrees(args.outcome, marked),
        )
    except SessionError as exc:
        tree = f" (the decision tree says {evaluation.outcome})" if evaluation.outcome else ""
        return bad_input(f"{exc}{tree}")

    async def announced() -> None:
        await session.announce_decision()
        await session.flush()

    asyncio.run(announced())
    print(f"incident {session.incident_id}: decided {args.outcome}" + (" (override)" if overridden else ""))
    return EXIT_OK


def cmd_tick(args) -> int:
    session = _session(args)
    item, group = _item(session, args.item)
    session.set_tick(item.id, group, item.title, "pending" if args.untick else "done", detail=args.detail)
    print(f"incident {session.incident_id}: {item.id} {'pending' if args.untick else 'done'}")
    return EXIT_OK


def cmd_waive(args) -> int:
    from console.incident.session import SessionError

    session = _session(args)
    item, group = _item(session, args.item)
    try:
        session.set_tick(item.id, group, item.title, "waived", reason=args.reason)
    except SessionError as exc:
        return bad_input(str(exc))
    print(f"incident {session.incident_id}: {item.id} waived")
    return EXIT_OK


def cmd_retro(args) -> int:
    session = _session(args)
    if not args.root_cause.strip():
        return bad_input("--root-cause must say something")
    session.save_retro(args.root_cause, args.detection_gaps, args.action)
    print(f"incident {session.incident_id}: retro saved ({len([a for a in args.action if a.strip()])} action items)")
    return EXIT_OK


def cmd_resolve(args) -> int:
    from console.incident.session import SessionError

    session = _session(args)
    try:
        resolved = session.resolve(args.summary)
    except SessionError as exc:
        return bad_input(str(exc))
    action, message = asyncio.run(session.end_silence(keep=args.keep_silence))
    if action == "failed":
        print(f"incident-console: warning: {message}", file=sys.stderr)
    said = "" if action == "none" else f"; {message}"
    if not args.no_post:

        async def posted() -> dict[str, str]:
            results = await session.post_resolution()
            await session.flush()
            return results

        results = asyncio.run(posted())
        said += "; posted: " + (", ".join(f"{c} {s}" for c, s in results.items()) or "no notifications configured")
    ttr = f", TTR {resolved.ttr_seconds:.0f}s" if resolved.ttr_seconds is not None else ""
    print(f"incident {session.incident_id}: resolved{ttr}{said}")
    return EXIT_OK


__all__ = ["checklist_items", "register_incident"]
