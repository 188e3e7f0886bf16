"""``status`` and ``record-deploy``: the host as the source of truth.

Exit codes: 0 success, 1 the host could not be read, 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from console.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, host_unreachable


def register_deployed(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status",
        help="what runs on the host (image digests matched against the release log), "
        "what health reports, and every disagreement with the release log (a fleet: per host, "
        "and where the hosts disagree)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-health", action="store_true", help="do not poll the health checks")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser(
        "record-deploy",
        help="mark a captured release deployed in the release log (for deploys made with the team's own tooling)",
    )
    p.add_argument("tag", metavar="TAG", help="a release tag already in the release log (captured)")
    p.add_argument(
        "--force",
        action="store_true",
        help="record it even though the host does not run it (or cannot be reached); needs --reason",
    )
    p.add_argument("--reason", metavar="TEXT", help="why the record is forced (kept in the release log)")
    p.set_defaults(handler=cmd_record_deploy)


async def host_deployment(config, *, with_health: bool = True):
    """Connect, read the host, close. Raises TransportError when the host cannot be reached."""
    from console.engine.incident import make_transport
    from console.release.deployed import gather_deployment

    transport = make_transport(config)
    await transport.connect()
    try:
        return await gather_deployment(config, transport, with_health=with_health)
    finally:
        await transport.close()


def cmd_status(args) -> int:
    from console.cli.commands import _config
    from console.failures import TransportError

    config = _config(args)
    if config.fleet is not None:  # every host, each over its own link, and where they disagree
        from console.cli.fleet_status import fleet_status

        return fleet_status(config, as_json=args.json, with_health=not args.no_health)
    try:
        deployment = asyncio.run(host_deployment(config, with_health=not args.no_health))
    except TransportError as exc:
        return host_unreachable(exc)
    if args.json:
        print(json.dumps(deployment.to_dict()))
    else:
        print("\n".join(deployment.lines()))
        if not deployment.disagreements:
            print("host, health and release log agree")
    return EXIT_OK


def cmd_record_deploy(args) -> int:
    """Refuses a tag never captured, always: the log's ``deployed`` must name a release whose digests
    and artifact hashes are known, or neither ``status`` nor a rollback can use it. Checks that the
    host runs TAG; ``--force --reason`` records it anyway (a partial deploy, a host out of reach)."""
    from console.cli.commands import _bad, _config
    from console.failures import TransportError
    from console.release.release_log import ReleaseLog, rfc3339
    from console.validate import UnsafeValue, require_tag

    config = _config(args)
    try:
        require_tag(args.tag)
        log = ReleaseLog.load(config.paths.release_log)
    except (UnsafeValue, ValueError) as exc:
        return _bad(str(exc))
    release = log.get(args.tag)
    if release is None:
        known = ", ".join(r.tag for r in log.releases) or "none"
        return _bad(
            f"release {args.tag} was never captured (known: {known}); capture it first "
            f"(capture --tag {args.tag} --source-tag ...) so its digests and hashes are recorded"
        )
    if args.force and not (args.reason or "").strip():
        return _bad("--force needs --reason TEXT (it is kept in the release log)")
    try:
        running = asyncio.run(host_deployment(config, with_health=False)).release
        problem = (
            None
            if running == args.tag
            else (
                f"the host runs {running}, not {args.tag}"
                if running
                else f"the host does not run {args.tag}'s images (see incident-console status)"
            )
        )
    except TransportError as exc:
        problem = f"cannot reach the host to check it runs {args.tag}: {exc}"
    if problem and not args.force:
        print(f"incident-console: {problem}; not recorded (--force --reason TEXT records it anyway)", file=sys.stderr)
        return EXIT_FAILED if problem.startswith("cannot reach") else EXIT_BAD_INPUT
    log.set_deployed(args.tag)
    release.extra["recorded_deploy"] = {
        "by": config.operator,
        "at": rfc3339(),
        "checked": problem is None,
        **({"reason": args.reason.strip()} if problem else {}),
    }
    log.save()
    print(f"release log: {args.tag} deployed" + (f" (forced: {problem})" if problem else " (the host runs it)"))
    return EXIT_OK
