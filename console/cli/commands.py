"""Headless subcommands: rollback, hotfix, verify, incidents, resume, report, unlock, alerts.

Exit codes: 0 success, 1 procedure failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys

from console.cli.config_loader import load_config_or_exit
from console.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, bad_input, host_unreachable


def positive_minutes(text: str) -> float:
    """A monitoring window: a finite number of minutes above zero (argparse exits 2 otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, not {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    def output_flags(p: argparse.ArgumentParser, dry: bool = True, yes: bool = True, incident: bool = False) -> None:
        if incident:
            p.add_argument(
                "--incident",
                metavar="ID",
                help="run it in this open incident (from `incident open`) instead of opening a new one",
            )
        if yes:
            p.add_argument("--yes", action="store_true", help="confirm destructive steps without asking")
        if dry:
            p.add_argument("--dry-run", action="store_true", help="show every exact command; change nothing")
        p.add_argument("--json", action="store_true", help="print one JSON event per line")

    p = sub.add_parser("rollback", help="roll back to the previous known-good release (runbook section 3)")
    p.add_argument("--to", metavar="TAG", help="release to restore (default: newest good one before the deployed)")
    p.add_argument(
        "--migration-order",
        choices=("before_down", "after_up"),
        help="when to roll migrations back (default from config)",
    )
    output_flags(p, incident=True)
    p.set_defaults(handler=cmd_rollback)

    p = sub.add_parser("hotfix", help="deploy a hotfix release HOTFIX_TAG and monitor it (runbook section 4)")
    p.add_argument("--tag", required=True, metavar="TAG", help="the hotfix release tag (captured first)")
    p.add_argument("--monitor-minutes", type=positive_minutes, help="how long to watch health after deploying")
    output_flags(p, incident=True)
    p.set_defaults(handler=cmd_hotfix)

    p = sub.add_parser("config-hotfix", help="change env-file keys on the host and recreate only affected services")
    p.add_argument("--service", required=True, help="compose service whose env file changes")
    p.add_argument("--env-file", help="env file relative to the project dir (default <role>/.env)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY",
        help="key to set; its value is read from the environment variable of the same name, "
        "never from the command line",
    )
    p.add_argument("--flag-command", nargs=argparse.REMAINDER, help="instead: a feature-flag command to run")
    p.add_argument("--undo", metavar="INCIDENT", help="restore the env file kept by that incident")
    output_flags(p)
    p.set_defaults(handler=cmd_config_hotfix)

    p = sub.add_parser("verify", help="post-rollback verification: ps, logs, health JSON, smoke tests")
    p.add_argument("--expect-version", metavar="TAG", help="version health must report (default: deployed)")
    p.add_argument("--json", action="store_true", help="print one JSON event per line")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("incidents", help="list incidents, newest first (this machine's and the host's)")
    p.add_argument("--json", action="store_true", help="print one JSON object per incident and line")
    p.add_argument(
        "--local",
        action="store_true",
        help="list only this machine's incidents, without asking the host for its shared copies",
    )
    p.set_defaults(handler=cmd_incidents)

    p = sub.add_parser("resume", help="continue an unfinished incident at its interrupted step")
    p.add_argument("id", metavar="ID", help="the incident id (see `incidents`)")
    p.add_argument(
        "--take-over-lock",
        metavar="REASON",
        help="continue under the host lock this incident's previous console left (it died or was "
        "killed); the reason is journaled. Without it a terminal is asked for one",
    )
    output_flags(p, dry=False)
    p.set_defaults(handler=cmd_resume)

    p = sub.add_parser("report", help="write the incident report (Markdown) from its journal")
    p.add_argument("id", metavar="ID", help="the incident id (see `incidents`)")
    p.add_argument("--out", metavar="FILE", help="write the report to FILE instead of stdout")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("unlock", help="show the host lock, or remove it with --force (asks first)")
    p.add_argument("--force", action="store_true", help="remove the lock (asks first)")
    p.add_argument("--yes", action="store_true", help="with --force: remove it without asking")
    p.add_argument("--host", metavar="NAME", help="a fleet: only this host's lock (default: every host's, one by one)")
    p.set_defaults(handler=cmd_unlock)

    from console.capture.cli import register_capture
    from console.cli.init import register_init
    from console.cli.status import register_deployed
    from console.incident.cli import register_incident
    from console.observability.cli import register_alerts

    register_capture(sub)
    register_incident(sub)
    register_alerts(sub, _config)
    register_deployed(sub)
    register_init(sub)


def _config(args):
    return load_config_or_exit(args.config)


_bad = bad_input


async def _execute(
    config,
    procedure,
    args,
    *,
    journal=None,
    done_steps=None,
    resume=False,
    record=True,
    open_journal=None,
    rebuild=None,
    fetched=False,
    session=None,
) -> int:
    """Run ``procedure`` headless through an ``IncidentSession``. ``open_journal`` opens the
    incident's journal once the host answered (default: a new incident from the procedure's
    from_tag, announced): an unreachable host leaves no empty incident behind. ``rebuild`` builds
    the procedure again once the host said which compose it has (see ``IncidentSession.connect_for``).
    ``session``: one already holding the link (``_on_one_link``); else a new one.
    """
    from console.cli.interrupts import Interrupted, run_until_interrupted
    from console.cli.output import CLIDecider, EventPrinter
    from console.engine.takeover import TakeOverRefused, take_over_lock_for_resume
    from console.failures import TransportError
    from console.incident.session import IncidentSession
    from console.notify import messages

    printer = EventPrinter(args.json)
    dry_run = getattr(args, "dry_run", False)
    if session is None:
        session = IncidentSession(config, journal, announce_beside=True)
    else:
        session.journal = journal

    async def take_over(transport, resumed, aimed=None) -> None:
        """The lock a dead console left: shown, taken over with --take-over-lock's (or a typed) reason.
        ``aimed``: the config aimed at the host whose lock it is (a fleet host)."""
        decider = CLIDecider(False)
        await take_over_lock_for_resume(
            aimed or config,
            transport,
            resumed,
            getattr(args, "take_over_lock", None),
            decider._ask if decider.interactive else None,
            lambda text: print(text, file=sys.stderr if args.json else sys.stdout),
        )

    session.fetched_from_host = fetched
    try:
        procedure = await session.connect_for(procedure, rebuild)
    except TransportError as exc:
        where = session._transport.description if session._transport is not None else "the target host"
        print(f"incident-console: cannot reach {where}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if dry_run:
            _say_compose(config, args)
        if journal is None and not dry_run and record:
            if open_journal:
                session.journal = open_journal()
                await session.announce(messages.INCIDENT_OPENED)
            else:
                await session.open_incident(procedure.from_tag)
        try:
            outcome = await run_until_interrupted(
                session.run(
                    procedure,
                    CLIDecider(getattr(args, "yes", False)),
                    listeners=[printer],
                    done_steps=done_steps,
                    assume_yes=getattr(args, "yes", False),
                    dry_run=dry_run,
                    resume=resume,
                    take_over_lock=take_over,
                ),
                lambda text: print(text, file=sys.stderr, flush=True),
            )
        except TakeOverRefused as exc:
            print(f"incident-console: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT if exc.needs_reason else EXIT_FAILED
        except Interrupted:
            where = f"; `incident-console resume {session.journal.incident_id}` continues it" if session.journal else ""
            print(f"incident-console: procedure interrupted{where}", file=sys.stderr)
            return EXIT_INTERRUPTED
        await session.flush()
    finally:
        await session.close()
    if session.journal is not None and not args.json:
        print(f"journal: {session.journal.path}")
    return EXIT_OK if outcome == "succeeded" else EXIT_FAILED


def _open_incident_arg(config, args):
    """``--incident ID``: that incident's journal (not in a dry run, which journals nothing)."""
    incident = getattr(args, "incident", None)
    if not incident or getattr(args, "dry_run", False):
        return None
    from console.engine.incident import load_incident

    journal = load_incident(config, incident)
    state = journal.state
    if state.opened is None:
        raise ValueError(f"{incident} is not an incident (it has no incident_opened record)")
    if state.resolved is not None:
        raise ValueError(f"incident {incident} is resolved; open a new one")
    if state.status not in ("open",):
        ran = state.started.procedure if state.started is not None else "procedure"
        raise ValueError(
            f"incident {incident} already ran its {ran} ({state.status}); use `incident-console resume {incident}`"
        )
    return journal


def _say_compose(config, args) -> None:
    """A dry run says which compose flavour its commands are shown for, and why."""
    from console.host_facts import describe_flavour

    said = f"compose: {describe_flavour(config.target)}"
    if getattr(config.target, "engine", "compose") == "swarm":  # no compose: stack deploy on a manager
        said = f"engine: swarm (docker stack deploy of stack {config.target.project_name} on the manager)"
    if args.json:
        from console.cli.output import json_line

        print(json_line({"event": "compose", "message": said}), flush=True)
    else:
        print(said, flush=True)


def cmd_rollback(args) -> int:
    from console.engine.incident import build_rollback
    from console.engine.rollback import RollbackTargetError
    from console.release.release_log import ReleaseLog
    from console.validate import UnsafeValue, require_tag

    config = _config(args)

    def check_input():
        if args.to is not None:
            require_tag(args.to)
        ReleaseLog.load(config.paths.release_log)
        return _open_incident_arg(config, args)

    def build(running):  # the host, not the release log, says what runs: the "from"
        return build_rollback(config, args.to, args.migration_order, running=running)

    return asyncio.run(
        _on_one_link(
            config,
            args,
            check_input,
            (UnsafeValue, ValueError, FileNotFoundError),
            build,
            (UnsafeValue, RollbackTargetError, ValueError),  # ValueError: an unreadable release log
        )
    )


def cmd_hotfix(args) -> int:
    from console.engine.hotfix import build_code_hotfix
    from console.engine.rollback import RollbackTargetError
    from console.validate import UnsafeValue

    config = _config(args)

    def check_input():
        build_code_hotfix(config, args.tag, args.monitor_minutes)
        return _open_incident_arg(config, args)

    def build(running):
        return build_code_hotfix(config, args.tag, args.monitor_minutes, running=running)

    return asyncio.run(
        _on_one_link(
            config,
            args,
            check_input,
            (UnsafeValue, RollbackTargetError, ValueError, FileNotFoundError),
            build,
            (UnsafeValue, RollbackTargetError, ValueError),
        )
    )


async def _on_one_link(config, args, check_input, input_errors, build, build_errors) -> int:
    """A rollback or hotfix, all on the session's one SSH link and in one event loop: the host's
    release log (host wins), then bad input refused (exit 2) before the host is asked what runs,
    then what the host runs (unreachable: exit 1), the procedure built from it, and the run.
    ``check_input()`` returns the ``--incident`` journal or None."""
    from console.failures import TransportError
    from console.incident import host_mirror
    from console.incident.session import IncidentSession
    from console.release.deployed import gather_deployment

    session = IncidentSession(config, None, announce_beside=True)  # none awaited before a step
    unreachable: Exception | None = None
    try:
        if not getattr(args, "dry_run", False) and host_mirror.enabled(config):
            try:
                await session.sync_release_log(_warn)
            except (TransportError, OSError) as exc:
                unreachable = exc
                _warn(f"the host's shared state is not available ({exc}); using this machine's copy only")
        try:  # bad input is refused before the host is asked what it runs
            journal = check_input()
        except input_errors as exc:
            return _bad(str(exc))
        try:
            if unreachable is not None:  # asked once: a host that refused a moment ago is not asked again
                raise unreachable
            transport = await session.connect()
        except (TransportError, OSError) as exc:
            return host_unreachable(exc)
        if config.fleet is not None:  # every host asked: the fleet may be half-rolled
            from console.release.fleet_deployed import fleet_release, gather_fleet_deployment

            running, notes = fleet_release(config, await gather_fleet_deployment(config, session.fleet_links))
        else:
            deployment = await gather_deployment(config, transport, with_health=False)
            running, notes = deployment.release, deployment.disagreements + deployment.errors
        for line in notes:
            print(f"warning: {line}", file=sys.stderr)
        try:
            procedure = build(running)
        except build_errors as exc:
            return _bad(str(exc))
        return await _execute(config, procedure, args, journal=journal, rebuild=lambda: build(running), session=session)
    finally:
        await session.close()


def cmd_config_hotfix(args) -> int:
    from console.engine.hotfix import build_config_hotfix
    from console.engine.incident import open_new_incident
    from console.incident.journal import new_incident_id
    from console.release.release_log import ReleaseLog
    from console.validate import UnsafeValue

    config = _config(args)
    incident_id = new_incident_id()

    def build():
        return build_config_hotfix(
            config,
            service=args.service,
            env_file=args.env_file,
            keys=args.set,
            flag_command=args.flag_command,
            undo_incident=args.undo,
            incident_id=incident_id,
        )

    try:
        procedure = build()
    except (UnsafeValue, ValueError, KeyError) as exc:
        return _bad(str(exc))
    deployed = None
    if not args.dry_run:
        try:
            deployed = ReleaseLog.load(config.paths.release_log).deployed
        except ValueError as exc:  # a config change does not need the release log: say so and go on
            print(f"warning: {exc}; the incident records the deployed release as unknown", file=sys.stderr)
    return asyncio.run(
        _execute(
            config,
            procedure,
            args,
            open_journal=lambda: open_new_incident(config, deployed, incident_id),
            rebuild=build,
        )
    )


def cmd_verify(args) -> int:
    from console.engine.incident import build_verify
    from console.validate import UnsafeValue, require_tag

    config = _config(args)
    try:
        if args.expect_version:
            require_tag(args.expect_version)
        procedure = build_verify(config, args.expect_version)
    except (UnsafeValue, ValueError) as exc:  # ValueError: an unreadable release log
        return _bad(str(exc))
    args.dry_run = False
    args.yes = True
    # Verify on its own is read-only and not an incident: nothing to journal.
    return asyncio.run(
        _execute(config, procedure, args, record=False, rebuild=lambda: build_verify(config, args.expect_version))
    )


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _from_host(config, work):
    """One short visit to the host's shared state (``[paths] host_state``); None when off or unreachable."""
    from console.incident import host_mirror

    if not host_mirror.enabled(config):
        return None
    return host_mirror.visit(config, work, _warn)


def cmd_incidents(args) -> int:
    from console.incident import host_mirror
    from console.incident.listing import all_incidents

    config = _config(args)
    items = all_incidents(config.paths.state_dir)
    local = {i.id for i in items}
    remote = [] if args.local else (_from_host(config, lambda t: host_mirror.host_summaries(config, t, local)) or [])
    on_host = {i.id for i in remote}
    items = sorted(items + remote, key=lambda i: i.id, reverse=True)
    if args.json:
        from console.cli.output import json_line

        for item in items:
            print(json_line({**item.to_dict(), **({"where": "host"} if item.id in on_host else {})}))
        return EXIT_OK
    if not items:
        print("no incidents")
        return EXIT_OK
    print(f"{'ID':<24} {'STATE':<12} {'TARGET':<26} {'PROCEDURE':<14} {'TAGS':<14} OUTCOME")
    for i in items:
        tags = f"{i.from_tag or '?'}->{i.to_tag}" if i.to_tag else "-"
        where = "  (on host)" if i.id in on_host else ""
        print(f"{i.id:<24} {i.state:<12} {i.target:<26} {i.procedure or '-':<14} {tags:<14} {i.outcome or '-'}{where}")
    return EXIT_OK


def _prepare_from_host(config, incident_id: str, *, release_log: bool) -> bool:
    """The host's release log (host wins) and, when missing here, the incident's journal from the
    host. True: the journal was fetched (resuming it is a handoff)."""
    from pathlib import Path

    from console.incident import host_mirror
    from console.incident.journal import JOURNAL_NAME

    here = (Path(config.paths.state_dir) / "incidents" / incident_id / JOURNAL_NAME).exists()
    if here and not release_log:
        return False
    if not host_mirror._ID.match(incident_id):
        return False  # open_incident names the bad id
    return bool(_from_host(config, lambda t: host_mirror.prepare(config, t, incident_id, _warn)))


def cmd_resume(args) -> int:
    from console.engine.incident import load_incident, rebuild_procedure

    config = _config(args)
    fetched = _prepare_from_host(config, args.id, release_log=True)
    try:
        journal = load_incident(config, args.id)
        procedure, done = rebuild_procedure(config, journal)
    except (FileNotFoundError, ValueError) as exc:
        return _bad(str(exc))
    if fetched:
        print(
            f"incident {args.id}: journal fetched from the host; resuming it here is journaled as a handoff",
            file=sys.stderr,
        )
    args.dry_run = False
    return asyncio.run(
        _execute(
            config,
            procedure,
            args,
            journal=journal,
            done_steps=done,
            resume=True,
            rebuild=lambda: rebuild_procedure(config, journal)[0],
            fetched=fetched,
        )
    )


def cmd_report(args) -> int:
    from console.engine.incident import load_incident
    from console.incident.report import render_report

    config = _config(args)
    _prepare_from_host(config, args.id, release_log=False)
    try:
        journal = load_incident(config, args.id)
    except FileNotFoundError as exc:
        return _bad(str(exc))
    text = render_report(journal.state)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
        from pathlib import Path

        from console.observability.report_section import write_charts  # the metrics' SVG charts beside it

        write_charts(journal.state, Path(args.out))
        print(f"report written to {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _journal_force_unlock(config, lock_dir: str, holder: dict) -> str:
    """Journal a forced unlock in the holder's incident when it lives here; otherwise in the
    state dir's lock log, never in a new journal (that would list as a fake open incident)."""
    from pathlib import Path

    from console.incident.journal import Journal, open_incident
    from console.incident.records import LockEvent

    event = LockEvent("force_unlocked", lock_dir, holder=holder, by=config.operator)
    incident = holder.get("incident_id")
    if incident:
        try:
            journal = open_incident(config.paths.state_dir, incident)
        except FileNotFoundError:
            journal = None
        if journal is not None and journal.state.opened is not None:
            journal.append(event)
            return f"incident {incident}"
    directory = Path(config.paths.state_dir) / "lock-log"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = Journal(directory)
    log.append(event)
    return f"the lock log {log.path}"


def cmd_unlock(args) -> int:
    return asyncio.run(_unlock(args))


async def _unlock(args) -> int:
    config = _config(args)
    name = getattr(args, "host", None)
    if name is not None and (config.fleet is None or name not in config.fleet.names):
        known = ", ".join(config.fleet.names) if config.fleet is not None else "none: this config has no [[hosts]]"
        return _bad(f"--host {name}: not a fleet host (hosts: {known})")
    if config.fleet is None:
        return await _unlock_one(args, config, "")
    worst = EXIT_OK
    for host in [name] if name else config.fleet.names:
        worst = max(worst, await _unlock_one(args, config.on_host(host), f"{host}: "))
    return worst


async def _unlock_one(args, config, label: str) -> int:
    from console.engine.incident import make_transport
    from console.engine.lock import RemoteLock, lock_age
    from console.failures import TransportError

    transport = make_transport(config)
    try:
        await transport.connect()
        lock = RemoteLock(transport, config.target.project_dir, config.operator, "")
        info = await lock.read()
        if not info:
            print(f"{label}the host is not locked")
            return EXIT_OK
        if info.get("unreadable"):
            print(
                f"{label}lock {lock.lock_dir}: present, but its info file is missing or unreadable "
                f"(a console that died while taking it?)"
            )
        else:
            print(
                f"{label}lock {lock.lock_dir}: held by {info.get('holder')} for incident {info.get('incident_id')} "
                f"since {info.get('since')}{lock_age(info.get('since'))}"
            )
        if not args.force:
            return EXIT_OK
        if not args.yes:
            if not sys.stdin.isatty():
                return _bad("force-unlock needs confirmation: run it in a terminal or pass --yes")
            if input("Remove it? The other console may still be running. [y/N] ").strip().lower() not in ("y", "yes"):
                return EXIT_FAILED
        await lock.force_release()
        print(f"{label}lock removed (journaled in {_journal_force_unlock(config, lock.lock_dir, info)})")
        return EXIT_OK
    except TransportError as exc:
        print(f"incident-console: {label}{exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await transport.close()
