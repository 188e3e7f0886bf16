"""Validation of every name that ends up inside a shell command.

Patterns are matched whole and ASCII-only (``re.fullmatch(..., re.ASCII)``):
``$`` in a ``re.match`` would let ``"v1\\n"`` through.
"""

from __future__ import annotations

import re


class _Lazy:
    """A pattern compiled on its first match: loading a config checks three of these, and compiling
    all of them cost ~1.5 ms of every start (bench/bench_startup.py)."""

    __slots__ = ("pattern", "flags", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def fullmatch(self, text: str) -> re.Match[str] | None:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled.fullmatch(text)


TAG_RE = _Lazy(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", re.ASCII)
MIGRATION_RE = _Lazy(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}", re.ASCII)
PROJECT_RE = _Lazy(r"[a-z0-9][a-z0-9_-]{0,62}", re.ASCII)
SERVICE_RE = _Lazy(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", re.ASCII)
IMAGE_RE = _Lazy(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*", re.ASCII)
HOST_RE = _Lazy(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    re.ASCII,
)
IPV6_RE = _Lazy(r"[0-9A-Fa-f:.]+", re.ASCII)
REGISTRY_RE = _Lazy(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?", re.ASCII)


class UnsafeValue(ValueError):
    """A value refused before any command is built from it."""


def is_valid_tag(tag: str) -> bool:
    return isinstance(tag, str) and TAG_RE.fullmatch(tag) is not None


def is_valid_migration(name: str) -> bool:
    return isinstance(name, str) and MIGRATION_RE.fullmatch(name) is not None


def is_valid_project_name(name: str) -> bool:
    return isinstance(name, str) and PROJECT_RE.fullmatch(name) is not None


def is_valid_service_name(name: str) -> bool:
    return isinstance(name, str) and SERVICE_RE.fullmatch(name) is not None


def is_valid_image_name(name: str) -> bool:
    return isinstance(name, str) and IMAGE_RE.fullmatch(name) is not None


def is_valid_hostname(host: str) -> bool:
    if not isinstance(host, str) or not host:
        return False
    return HOST_RE.fullmatch(host) is not None or (":" in host and IPV6_RE.fullmatch(host) is not None)


def require_tag(tag: str) -> str:
    if not is_valid_tag(tag):
        raise UnsafeValue(f"refusing release tag {tag!r}: a tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")
    return tag


def require_migration(name: str) -> str:
    if not is_valid_migration(name):
        raise UnsafeValue(f"refusing migration name {name!r}: it must match [A-Za-z0-9_][A-Za-z0-9_.:-]{{0,127}}")
    return name


def require_project_name(name: str) -> str:
    if not is_valid_project_name(name):
        raise UnsafeValue(f"refusing compose project name {name!r}: it must match [a-z0-9][a-z0-9_-]*")
    return name


def require_service(name: str) -> str:
    if not is_valid_service_name(name):
        raise UnsafeValue(f"refusing service name {name!r}")
    return name


# --- Values that reach remote argv through console/commands/ -------------------------

# A remote path is absolute, made of plain characters, and never climbs out with "..":
# builders put it in argv unquoted by the operator, and rm/tar/cp act on it.
REMOTE_PATH_RE = _Lazy(r"(?:/[A-Za-z0-9_.@+-]+)+/?", re.ASCII)
ENV_KEY_RE = _Lazy(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
INCIDENT_ID_RE = _Lazy(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}", re.ASCII)
# Whoever holds the lock is written into the lock's info file one field per line.
HOLDER_RE = _Lazy(r"[A-Za-z0-9_.@+-][A-Za-z0-9_.@+ -]{0,127}", re.ASCII)
ISO_TIME_RE = _Lazy(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})?", re.ASCII
)
URL_RE = _Lazy(r"https?://[A-Za-z0-9.\-\[\]:]+(?:/[A-Za-z0-9._~!$&()*+,;=:@%/?#-]*)?", re.ASCII)
# A registry part is only recognised by docker when it has a dot, a port or is localhost;
# anything else is read as a Docker Hub path, so "registry/x" would pull from the Hub.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
REGISTRY_HOST_RE = _Lazy(
    rf"(?:{_LABEL}(?:\.{_LABEL})+|localhost)(?::[0-9]{{1,5}})?|{_LABEL}:[0-9]{{1,5}}|\[[0-9A-Fa-f:]+\](?::[0-9]{{1,5}})?",
    re.ASCII,
)
# [registry[:port]/]name[:tag][@sha256:digest], the subset of the reference grammar we ship.
IMAGE_REF_RE = _Lazy(
    rf"(?:(?P<registry>{REGISTRY_HOST_RE.pattern})/)?"
    r"(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@sha256:[0-9a-f]{64})?",
    re.ASCII,
)


def require_line_count(n: int) -> str:
    """A log tail's line count as its argv word: a non-negative integer (never a bool or text)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise UnsafeValue(f"refusing line count {n!r}: it must be a non-negative integer")
    return str(n)


def require_remote_path(path: str, what: str = "path") -> str:
    if (
        not isinstance(path, str)
        or REMOTE_PATH_RE.fullmatch(path) is None
        or any(part in (".", "..") for part in path.split("/"))
    ):
        raise UnsafeValue(
            f"refusing {what} {path!r}: it must be absolute, made of [A-Za-z0-9_.@+-] components, without '.' or '..'"
        )
    return path.rstrip("/") or "/"


def require_env_key(key: str) -> str:
    if not isinstance(key, str) or ENV_KEY_RE.fullmatch(key) is None:
        raise UnsafeValue(f"refusing environment key {key!r}: it must match [A-Za-z_][A-Za-z0-9_]*")
    return key


def require_incident_id(incident_id: str) -> str:
    if not isinstance(incident_id, str) or INCIDENT_ID_RE.fullmatch(incident_id) is None:
        raise UnsafeValue(f"refusing incident id {incident_id!r}: it must match [A-Za-z0-9][A-Za-z0-9_.:-]{{0,127}}")
    return incident_id


def is_valid_holder(holder: str) -> bool:
    return isinstance(holder, str) and HOLDER_RE.fullmatch(holder) is not None


def is_valid_remote_path(path: str) -> bool:
    try:
        require_remote_path(path)
    except UnsafeValue:
        return False
    return True


def require_holder(holder: str) -> str:
    if not is_valid_holder(holder):
        raise UnsafeValue(f"refusing lock holder {holder!r}: use letters, digits, spaces and _.@+-")
    return holder


def require_iso_time(value: str) -> str:
    if not isinstance(value, str) or ISO_TIME_RE.fullmatch(value) is None:
        raise UnsafeValue(f"refusing timestamp {value!r}: it must be ISO 8601 (2024-05-01T12:00:00Z)")
    return value


def require_url(url: str) -> str:
    if isinstance(url, str) and "://" in url and "@" in url.split("://", 1)[1].split("/", 1)[0]:
        # Credentials in a URL would be printed with the command in the journal (and here).
        raise UnsafeValue("refusing URL with credentials (user:password@): pass them another way")
    if not isinstance(url, str) or URL_RE.fullmatch(url) is None:
        raise UnsafeValue(f"refusing URL {url!r}: it must be http(s):// without whitespace, quotes or backslashes")
    return url


def require_registry(registry: str) -> str:
    if not isinstance(registry, str) or REGISTRY_HOST_RE.fullmatch(registry) is None:
        raise UnsafeValue(f"refusing registry {registry!r}: give it as host[:port] with a dot, a port or localhost")
    return registry


def require_image(name: str) -> str:
    if not is_valid_image_name(name):
        raise UnsafeValue(f"refusing image name {name!r}: lower-case name components separated by /")
    return name


def require_image_ref(ref: str) -> str:
    if not isinstance(ref, str) or IMAGE_REF_RE.fullmatch(ref) is None:
        raise UnsafeValue(f"refusing image reference {ref!r}: expected [registry/]name[:tag]")
    return ref
