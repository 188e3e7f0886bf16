"""What a fleet runs: every host asked at once, and the one release a rollback or hotfix starts from.

Hosts can disagree (a rollout stopped half-way). A rollback then goes back from the newest release
any host runs, and a hotfix replaces it: the hosts already on the target simply run its steps again.
A host running a build no release captured leaves the answer unknown (``--to``/``--tag`` decides).
"""

from __future__ import annotations

import asyncio

from console.config import Config
from console.release.deployed import Deployment, gather_deployment
from console.release.release_log import ReleaseLog, ReleaseLogError
from console.transport.base import Transport


async def gather_fleet_deployment(config: Config, links: dict[str, Transport]) -> dict[str, Deployment]:
    names = list(links)
    try:  # read once for every host (gather_deployment would read it per host)
        log: ReleaseLog | None = ReleaseLog.load(config.paths.release_log)
    except ReleaseLogError:
        log = None  # each host's deployment then says it could not read it
    found = await asyncio.gather(
        *(gather_deployment(config.on_host(name), links[name], log, with_health=False) for name in names)
    )
    return dict(zip(names, found, strict=True))


def fleet_release(config: Config, deployments: dict[str, Deployment]) -> tuple[str | None, list[str]]:
    """``(release, notes)``: the release the fleet runs, or the newest any host runs when they
    disagree (said in ``notes``), or None when a host runs no captured release."""
    runs = {name: d.release for name, d in deployments.items()}
    notes = [f"{name}: {line}" for name, d in deployments.items() for line in d.disagreements + d.errors]
    unknown = sorted(name for name, release in runs.items() if release is None)
    if unknown:
        verb = "runs" if len(unknown) == 1 else "run"
        notes.append(f"{', '.join(unknown)} {verb} no release the release log captured")
        return None, notes
    releases = set(runs.values())
    if len(releases) == 1:
        return releases.pop(), notes
    try:
        order = {r.tag: i for i, r in enumerate(ReleaseLog.load(config.paths.release_log).releases)}
    except ReleaseLogError:
        order = {}
    newest = max(releases, key=lambda tag: order.get(tag or "", -1))
    by_release = {tag: sorted(n for n, r in runs.items() if r == tag) for tag in releases}
    said = "; ".join(
        f"{'/'.join(names)} {'runs' if len(names) == 1 else 'run'} {tag}"
        for tag, names in sorted(by_release.items(), key=lambda item: order.get(item[0] or "", -1))
    )
    notes.append(f"the hosts disagree ({said}): starting from {newest}, the newest")
    return newest, notes
