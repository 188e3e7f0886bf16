"""Pin a working tree's compose file to the release's registry images.

The source tree builds ``mr-dj-backend:latest`` (``build: ./backend``); the host
has no build context and must run exactly the captured images. So the bundled
compose file names ``<registry>/<image>:<tag>`` and has no ``build:`` key, like
the compose files of earlier releases. The rewrite is line-based so comments
and layout survive; :func:`console.composefile.parse_compose` checks the input
is in the supported subset first, and the result parses to what we expect.
"""

from __future__ import annotations

import re

from console.capture.errors import CaptureError
from console.composefile import ComposeParseError, parse_compose

_KEY = re.compile(r"(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+|\"[^\"]+\"|'[^']+')\s*:(?:\s|$)")


def pin_compose_images(text: str, refs: dict[str, str], service_images: dict[str, str]) -> str:
    """Return ``text`` with each service in ``service_images`` (service -> image name)
    running ``refs[image]`` and without its ``build:`` section.

    Raises :class:`CaptureError` when the file cannot be read as compose YAML or a
    configured service is missing from it.
    """
    try:
        document = parse_compose(text)
    except ComposeParseError as exc:
        raise CaptureError(f"compose file not understood ({exc})") from None
    services = (document or {}).get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        raise CaptureError("compose file has no services: mapping")
    missing = [name for name in service_images if name not in services]
    if missing:
        raise CaptureError(f"compose file has no service(s) {', '.join(missing)} named in the config")

    lines = text.splitlines(keepends=True)
    out: list[str] = []
    in_services = False
    service_indent: int | None = None
    key_indent: int | None = None
    current: str | None = None
    skipping_below: int | None = None   # dropping a build: block deeper than this indent
    image_written: set[str] = set()

    def finish_service() -> None:
        if current in service_images and current not in image_written:
            indent = " " * (key_indent if key_indent is not None else (service_indent or 0) + 2)
            out.append(f"{indent}image: {refs[service_images[current]]}\n")
            image_written.add(current)

    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        blank = not stripped or stripped.startswith("#")
        if skipping_below is not None:
            if blank or indent > skipping_below:
                continue
            skipping_below = None
        match = None if blank else _KEY.match(line)
        if not blank and indent == 0:
            if in_services:
                finish_service()
            in_services = bool(match and match["key"].strip("'\"") == "services")
            current = None
            service_indent = key_indent = None
            out.append(line)
            continue
        if in_services and match and not blank:
            if service_indent is None or indent <= service_indent:
                finish_service()
                service_indent = indent
                current = match["key"].strip("'\"")
                key_indent = None
                out.append(line)
                continue
            if key_indent is None:
                key_indent = indent
            if indent == key_indent and current in service_images:
                key = match["key"].strip("'\"")
                if key == "build":
                    skipping_below = indent
                    continue
                if key == "image":
                    out.append(f"{' ' * indent}image: {refs[service_images[current]]}\n")
                    image_written.add(current)
                    continue
        out.append(line)
    if in_services:
        finish_service()
    pinned = "".join(out)

    check = parse_compose(pinned)["services"]
    for service, image in service_images.items():
        if check[service].get("image") != refs[image] or "build" in check[service]:
            raise CaptureError(f"could not pin service {service} to {refs[image]} in the compose file")
    return pinned
