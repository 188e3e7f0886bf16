"""``status`` on a fleet: each host read at once over its own link, then where the hosts disagree.

Exit codes as ``status``: 0 every host was read, 1 a host could not be read (the others are
still shown).
"""

from __future__ import annotations

import asyncio
import json

from console.cli.exit_codes import EXIT_FAILED, EXIT_OK


def fleet_status(config, *, as_json: bool, with_health: bool, transports=None) -> int:
    from console.decide.fleet_evidence import gather_fleet_evidence
    from console.release.release_log import ReleaseLog

    log = None
    problems: list[str] = []
    try:
        log = ReleaseLog.load(config.paths.release_log)
    except (ValueError, OSError) as exc:
        problems.append(f"cannot read the release log: {exc}")
    fleet = asyncio.run(gather_fleet_evidence(config, log, transports, with_health=with_health))
    if as_json:
        print(json.dumps({**fleet.to_dict(), "errors": problems}))
    else:
        for host in fleet.hosts:
            print(f"== {host.host} ({host.address})")
            if host.deployment is not None:
                print("\n".join(host.deployment.lines()))
            else:
                print("\n".join(f"? {e}" for e in host.errors))
            if host.healthy is not None:
                for check, what in host.health.items():
                    print(f"  health {check}: {what}")
        print("== fleet")
        for problem in problems:
            print(f"? {problem}")
        print("\n".join(fleet.lines()))
        if not fleet.disagreements:
            print("the hosts agree")
    return EXIT_OK if all(h.read for h in fleet.hosts) else EXIT_FAILED
