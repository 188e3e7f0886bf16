"""The read-only checks a release must pass before anything changes, as steps: its artifacts
against SHA256SUMS and the release log, its bundle's members, and its images (pulled: on the
node or in the registry; from the tarball: room to load them). Compose and swarm rollbacks alike."""

from __future__ import annotations

from console.commands import artifacts as art
from console.config import Config
from console.engine.artifact_checks import verify_bundle_members, verify_release_artifacts
from console.engine.disk_space import check_space_for_images
from console.engine.image_checks import check_release_images
from console.engine.procedure import Step


def release_preflight_steps(
    config: Config, release, tag: str, recorded: dict, use_registry: bool, *, node: str = "host", bundle: str = ""
) -> list[Step]:
    """``node``: what the target is called in the titles ("host", "manager"); ``bundle``: what the
    bundle holds besides, for the title."""
    target = config.target
    image_step = (
        # a pruned image found at `docker pull`, after `down`, would leave the stack down
        Step(
            "images_available",
            f"{tag}'s images are on the {node} or in the registry",
            action=lambda ctx: check_release_images(ctx, release, tag),
            display=f"docker image inspect / docker manifest inspect for each {tag} image",
            read_only=True,
            preflight=True,
            together="preflight",
        )
        if use_registry
        # a full disk found mid-load would leave the stack down
        else Step(
            "disk_space",
            f"Room on the {node} to load {tag}'s images",
            action=lambda ctx: check_space_for_images(ctx, tag),
            display=f"df -Pk <docker root dir> vs the size of {art.images_path(target.artifacts_dir, tag)}",
            read_only=True,
            preflight=True,
            together="preflight",
        )
    )
    return [
        verify_artifacts_step(config, tag, recorded, use_registry),
        inspect_bundle_step(config, tag, bundle=bundle),
        image_step,
    ]


def verify_artifacts_step(config: Config, tag: str, recorded: dict, use_registry: bool) -> Step:
    """The release's files on ``config.target`` (the bundle, and the image tarball unless the images
    are pulled) hashed and compared with SHA256SUMS and the release log."""
    target = config.target
    return Step(
        "verify_artifacts",
        f"Verify {tag} artifacts (SHA256SUMS + release log)",
        action=lambda ctx: verify_release_artifacts(ctx, tag, recorded, use_registry),
        display=f"sha256sum {art.bundle_path(target.artifacts_dir, tag)}"
        + ("" if use_registry else f" {art.images_path(target.artifacts_dir, tag)}")
        + f" vs {art.sha256sums_path(target.artifacts_dir)} and the release log",
        read_only=True,
        preflight=True,
        together="preflight",
        timeout=600,
    )


def inspect_bundle_step(config: Config, tag: str, *, bundle: str = "") -> Step:
    """The bundle's members listed and checked; ``bundle``: what it holds besides, for the title."""
    return Step(
        "inspect_bundle",
        f"Inspect {tag}-compose.tar.gz (no absolute paths, .. or links{'; ' + bundle if bundle else ''})",
        action=lambda ctx: verify_bundle_members(ctx, tag),
        display=" ".join(art.list_bundle(config.target.artifacts_dir, tag)),
        read_only=True,
        preflight=True,
        together="preflight",
    )
