"""Which configured targets need a captured release's artifacts uploaded.

Production always does, and so does every host of a fleet (``[[hosts]]``). A
``[staging]`` target does when its artifacts directory is another one: another host, port
or directory (a code hotfix is verified and started there from its own copy). Uploading
twice to one directory is harmless (the upload resumes and SHA256SUMS.txt lists a file
once), so an alias of the production host costs only a re-check.
"""

from __future__ import annotations

from console.config import Config


def _where(target) -> tuple[str, int, str]:
    return target.host, target.port, target.artifacts_dir.rstrip("/")


def upload_targets(config: Config) -> list[tuple[str, Config]]:
    """``[(label, config aimed at that target)]``: production first; a fleet's every host (by name)
    whose artifacts directory is its own."""
    targets = [("production", config)]
    if config.fleet is not None:
        seen = {_where(config.target)}
        for host in config.fleet.hosts[1:]:
            if _where(host.target) not in seen:
                seen.add(_where(host.target))
                targets.append((host.name, config.on_host(host.name)))
    if config.staging is not None and _where(config.staging.target) != _where(config.target):
        targets.append(("staging", config.on_staging()))
    return targets
