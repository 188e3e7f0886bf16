"""Pin a working tree's compose files to the release's registry images.

The source tree builds ``mr-dj-backend:latest`` (``build: ./backend``); the host
has no build context and must run exactly the captured images. So the bundled
compose files name ``<registry>/<image>:<tag>`` and have no ``build:`` key, like
the compose files of earlier releases.

The rewrite is a ruamel.yaml round trip: comments, key order, quoting, flow
style, anchors and ``<<:`` merge keys survive. A service that inherits its
``build:`` through a merge key gets its merged keys written out (minus
``build:``), since a merge cannot be partly undone. Every file is checked with
:func:`console.release.composefile.parse_compose` first and the pinned result is read
back: the layered files must run exactly the release's images.
"""

from __future__ import annotations

import io

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from console.capture.compose_model import own_model
from console.capture.errors import CaptureError
from console.release.composefile import merge_documents, parse_compose


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never re-wrap a long line
    return yaml


def pin_compose_files(texts: dict[str, str], refs: dict[str, str], service_images: dict[str, str]) -> dict[str, str]:
    """``texts`` (file name -> text, in compose's ``-f`` order) with each service in
    ``service_images`` (service -> image name) running ``refs[image]`` and no ``build:``.

    Raises :class:`CaptureError` when a file cannot be read as compose YAML or a
    configured service is in none of them.
    """
    merged = own_model(texts, CaptureError)
    services = merged.get("services") if isinstance(merged, dict) else None
    if not isinstance(services, dict):
        raise CaptureError(
            f"compose file{'s' if len(texts) > 1 else ''} {', '.join(texts)} ha{{}} no services: mapping".format(
                "ve" if len(texts) > 1 else "s"
            )
        )
    missing = [name for name in service_images if name not in services]
    if missing:
        raise CaptureError(f"compose file has no service(s) {', '.join(missing)} named in the config")

    pinned: dict[str, str] = {}
    placed: set[str] = set()  # services whose image is set in an earlier file
    for name, text in texts.items():
        pinned[name] = _pin_one(name, text, refs, service_images, placed)

    check = merge_documents([parse_compose(text) for text in pinned.values()])["services"]
    for service, image in service_images.items():
        if check[service].get("image") != refs[image] or "build" in check[service]:
            raise CaptureError(f"could not pin service {service} to {refs[image]} in the compose files")
    return pinned


def pin_compose_images(text: str, refs: dict[str, str], service_images: dict[str, str]) -> str:
    """One compose file: see :func:`pin_compose_files`."""
    return pin_compose_files({"docker-compose.yml": text}, refs, service_images)["docker-compose.yml"]


def _pin_one(name: str, text: str, refs: dict[str, str], service_images: dict[str, str], placed: set[str]) -> str:
    yaml = _yaml()
    try:
        document = yaml.load(text.removeprefix("\ufeff"))
    except YAMLError:
        # parse_compose accepted it; ruamel did not: say which file, never its content
        raise CaptureError(
            f"compose file {name} could not be rewritten (its YAML is unusual); write it without exotic YAML features"
        ) from None
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        return text
    for service, image in service_images.items():
        definition = services.get(service)
        if not isinstance(definition, dict):
            continue
        if _merged_build(definition):
            definition = _written_out(definition)
            services[service] = definition
        if "build" in definition:
            del definition["build"]
        if service not in placed or "image" in definition:
            definition["image"] = refs[image]
            placed.add(service)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _merged_build(definition) -> bool:
    return any(isinstance(source, dict) and "build" in source for source in (getattr(definition, "merge", None) or []))


def _written_out(definition) -> CommentedMap:
    """The service's keys, merged ones included, as a plain mapping (no ``<<:``)."""
    plain = CommentedMap()
    for key, value in definition.items():
        plain[key] = value
    return plain
