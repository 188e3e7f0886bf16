"""A release bundle for a swarm target: its pinned compose files are the stack files.

``docker stack deploy -c`` reads the compose file differently from compose (docker 20.10's
client, checked on the sandbox's): it does not read ``.env`` (an unset ``${VAR}`` becomes an
empty string, with only a warning), it cannot ``build:``, it needs the version 3 file format
(or no ``version:``), and it ignores ``network_mode:`` (the service then runs on an overlay
network, not on the host's). Each of these would deploy a different stack from the captured
one, so the capture refuses them, naming the file and what to write instead.

Images are pinned by digest (``<registry>/<image>:<tag>@sha256:...``): every node pulls the
captured manifest, even if the tag is pushed again later.
"""

from __future__ import annotations

import re

from console.capture.errors import CaptureError
from console.release.composefile import ComposeParseError, parse_compose

# ${VAR}, ${VAR:-x}, $VAR; "$$" is compose's escaped dollar
_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")


def stack_refs(release_images) -> dict[str, str]:
    """Image name -> the reference the stack file names: by digest once pushed."""
    return {i.name: f"{i.ref}@{i.digest}" if i.digest else i.ref for i in release_images}


def check_stack_files(texts: dict[str, str]) -> None:
    """Refuse pinned compose files ``docker stack deploy`` would not deploy as captured."""
    for name, text in texts.items():
        try:
            document = parse_compose(text)
        except ComposeParseError as exc:
            raise CaptureError(f"compose file {name} not understood ({exc})") from None
        if not isinstance(document, dict):
            continue
        problems = []
        version = document.get("version")
        if version is not None and not str(version).startswith("3"):
            problems.append(f'version: "{version}" (docker stack deploy needs the version 3 format, e.g. "3.8")')
        found = document.get("services")
        services: dict = found if isinstance(found, dict) else {}
        for service, definition in services.items():
            if not isinstance(definition, dict):
                continue
            if "build" in definition:
                problems.append(f"service {service} has build: (a swarm runs images only: add it to [[services]])")
            if "network_mode" in definition:
                problems.append(
                    f"service {service} has network_mode: (a stack ignores it; use networks: "
                    "[hostnet] with networks: {hostnet: {external: true, name: host}})"
                )
        names = sorted({m.group(1) or m.group(2) for m in _VARIABLE.finditer(_without_comments(text))})
        if names:
            problems.append(
                "it uses variables "
                + ", ".join(names)
                + " (docker stack deploy does not read .env: write the values in, or use env_file:)"
            )
        if problems:
            raise CaptureError(f"compose file {name} cannot be a swarm stack file: " + "; ".join(problems))


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
