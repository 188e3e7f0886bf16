"""``incident-console alerts [--json] [--silence] [--incident ID]``: the firing alerts for the target,
and with ``--silence`` the incident's Alertmanager silence (created once, journaled).

Exit codes: 0 listed (and silenced), 1 Alertmanager unreachable or the silence refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def register_alerts(sub: argparse._SubParsersAction, handler_config) -> None:
    p = sub.add_parser(
        "alerts", help="list the firing alerts for the target (Alertmanager); --silence silences them for the incident"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: alerts, matchers, silence")
    p.add_argument(
        "--silence", action="store_true", help="create the incident's silence for its services (once; journaled)"
    )
    p.add_argument(
        "--incident", metavar="ID", help="incident the silence belongs to (default: the newest unresolved incident)"
    )
    p.set_defaults(handler=lambda args: cmd_alerts(args, handler_config(args)))


def _open_incident(config, incident_id: str | None):
    from console.incident.journal import open_incident
    from console.incident.listing import all_incidents

    if incident_id:
        return open_incident(config.paths.state_dir, incident_id)
    for item in all_incidents(config.paths.state_dir):
        if item.state != "resolved":
            return open_incident(config.paths.state_dir, item.id)
    raise FileNotFoundError("no unresolved incident: start one (TUI or rollback/hotfix), or pass --incident ID")


def cmd_alerts(args, config) -> int:
    from console.cli.main import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

    if config.observability.alertmanager is None:
        print("incident-console: no [alertmanager] url is configured", file=sys.stderr)
        return EXIT_BAD_INPUT
    journal = None
    if args.silence:
        try:
            journal = _open_incident(config, args.incident)
        except FileNotFoundError as exc:
            print(f"incident-console: {str(exc).strip(chr(39))}", file=sys.stderr)
            return EXIT_BAD_INPUT
    return asyncio.run(_alerts(args, config, journal, EXIT_OK, EXIT_FAILED))


async def _alerts(args, config, journal, ok: int, failed: int) -> int:
    from console.observability.silences import firing_alerts, silence_incident

    found = await firing_alerts(config)
    silence, problem = None, found.problem
    if args.silence and not problem:
        silence, problem = await silence_incident(config, journal, config.operator, found=found)
    if args.json:
        print(
            json.dumps(
                {
                    "alerts": [a.to_dict() for a in found.alerts],
                    "matchers": [m.to_filter() for m in found.matchers],
                    "incident": journal.incident_id if journal is not None else None,
                    "silence": None
                    if silence is None
                    else {
                        k: getattr(silence, k) for k in ("silence_id", "starts_at", "ends_at", "matchers", "comment")
                    },
                    "error": problem or None,
                }
            )
        )
    else:
        if found.problem:
            print(f"incident-console: {found.problem}", file=sys.stderr)
        else:
            print(
                f"{len(found.alerts)} firing alert{'s' if len(found.alerts) != 1 else ''} "
                f"({' '.join(m.to_filter() for m in found.matchers)})"
            )
            for alert in found.alerts:
                where = alert.labels.get("service") or alert.labels.get("instance") or "-"
                print(f"  {alert.name:<20} {where:<20} since {alert.starts_at[:19]}  {alert.summary}")
        if silence is not None:
            print(
                f"silence {silence.silence_id} until {str(silence.ends_at)[:16]} UTC (incident {journal.incident_id})"
            )
        elif args.silence and problem:
            print(f"incident-console: not silenced: {problem}", file=sys.stderr)
    return failed if problem else ok
