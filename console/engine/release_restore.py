"""Putting a captured release on the host from its artifacts, as steps: the bundle unpacked over
the project directory, and the images loaded from the release's tarball (when they are not
pulled from the registry: console.engine.registry_pull). Rollbacks and hotfixes, compose and
swarm alike; each names the step in its own words."""

from __future__ import annotations

from console.commands import artifacts as art
from console.config import Config
from console.engine.procedure import Step


def restore_bundle_step(config: Config, tag: str, title: str, *, preview=None) -> Step:
    """Destructive: it overwrites the project directory's compose (or stack) files."""
    target = config.target
    return Step(
        "restore_bundle",
        title,
        argv=art.extract_bundle(target.artifacts_dir, tag, target.project_dir),
        destructive=True,
        mutating=True,
        preview=preview,
    )


def load_images_step(config: Config, tag: str, title: str) -> Step:
    """``docker load`` of the release's image tarball, which takes a while for a big one."""
    return Step(
        "load_images",
        title,
        argv=art.docker_load(config.target.artifacts_dir, tag),
        mutating=True,
        timeout=900,
    )
