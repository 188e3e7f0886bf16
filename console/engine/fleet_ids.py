"""A fleet procedure's step ids name their host: ``"web2:compose_up"``."""

from __future__ import annotations

SEPARATOR = ":"


def host_step_id(host: str, step_id: str) -> str:
    return f"{host}{SEPARATOR}{step_id}"


def split_step_id(step_id: str) -> tuple[str | None, str]:
    """``("web2", "compose_up")`` for a fleet step; ``(None, "compose_up")`` for a single host's."""
    host, sep, base = step_id.partition(SEPARATOR)
    return (host, base) if sep else (None, step_id)


def base_step_id(step_id: str) -> str:
    return split_step_id(step_id)[1]
