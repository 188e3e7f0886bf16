"""Pull a release's images from the registry as they were captured, not as the tag is now.

A tag in a registry can be pushed again; the release log holds each image's digest
from capture. So each image is pulled by that digest and tagged locally with the
release tag the bundled compose file names: what starts is what was captured.
Only an image captured without a digest falls back to its tag (and says so).
"""

from __future__ import annotations

from console.commands import artifacts as art
from console.config import Config
from console.engine.procedure import Step


def captured_digest(release, image: str, service: str) -> str | None:
    """The digest the release log holds for ``image`` (keyed by image or service name)."""
    images = getattr(release, "images", None) or {}
    entry = images.get(image) or images.get(service) or {}
    digest = entry.get("digest") if isinstance(entry, dict) else None
    return digest if isinstance(digest, str) and art.is_image_digest(digest) else None


def pull_steps(
    config: Config, release, tag: str, *, id_prefix: str = "", title_prefix: str = "", host: str = "target"
) -> list[Step]:
    steps = []
    registry = config.registry.url
    for service in config.services:
        digest = captured_digest(release, service.image, service.name)
        if digest is None:
            title = f"Pull {service.image}:{tag} (no digest captured: the tag is trusted)"
            pull = art.docker_pull(registry, service.image, tag)
        else:
            title = f"Pull {service.image} by its captured digest {digest[:19]}…"
            pull = art.docker_pull_digest(registry, service.image, digest)
        steps.append(
            Step(
                f"{id_prefix}pull_{service.name}",
                title_prefix + title,
                argv=pull,
                mutating=True,
                timeout=900,
                host=host,
            )
        )
        if digest is not None:  # pulled by digest: tag it as the release's compose file names it
            pinned = art.digest_ref(registry, service.image, digest)
            steps.append(
                Step(
                    f"{id_prefix}tag_{service.name}",
                    f"{title_prefix}Tag it {service.image}:{tag} for compose",
                    argv=art.docker_tag(pinned, art.image_ref(registry, service.image, tag)),
                    mutating=True,
                    host=host,
                )
            )
    return steps
