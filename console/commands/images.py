"""Is a release's image to be had: on the host already, or in the registry? (read-only)"""

from __future__ import annotations

import ipaddress

from console.commands.base import docker
from console.validate import require_image_ref, require_registry


def image_present(ref: str) -> list[str]:
    """Exit 0 when the host's dockerd has ``ref`` (by tag or by digest)."""
    return docker("image", "inspect", "--format", "{{.Id}}", require_image_ref(ref))


def _loopback(registry: str) -> bool:
    host = require_registry(registry).rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def registry_has(registry: str, ref: str) -> list[str]:
    """Exit 0 when the registry serves ``ref``'s manifest. dockerd trusts a loopback registry over
    plain HTTP by default; the CLI's manifest client needs to be told (only for loopback)."""
    insecure = ["--insecure"] if _loopback(registry) else []
    return docker("manifest", "inspect", insecure, require_image_ref(ref))
