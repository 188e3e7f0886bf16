"""Which compose files make the project, as ``docker compose`` decides it.

``[capture] compose_files = ["compose.yaml", "compose.prod.yaml"]`` names them
in ``-f`` order (the older ``compose_file = "x.yml"`` is a one-element list).
Left out, the console picks what compose itself would: ``$COMPOSE_FILE`` (names
separated by the OS path separator) when set, else the first of
``compose.yaml``, ``compose.yml``, ``docker-compose.yaml``,
``docker-compose.yml`` in ``source_dir`` plus its override file. The bundle
carries the files under the same relative names, so the host runs the same set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

# What `docker compose` looks for in a project directory, in its order, and each one's overrides.
DEFAULT_COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_OVERRIDES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}
FALLBACK = "docker-compose.yml"


def _bad_name(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "must be non-empty file names"
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        return f"must be relative paths inside source_dir (the host runs them from project_dir): {name!r}"
    return None


def configured_compose_files(r, table: dict) -> tuple[str, ...]:
    """``[capture] compose_files`` / ``compose_file`` from a config table; problems go to ``r``."""
    if "compose_files" in table and "compose_file" in table:
        r.problem("capture.compose_files", "give compose_files or compose_file, not both")
        return ()
    if "compose_file" in table:
        name = r.get(table, "capture", "compose_file", str, None)
        if name is None:
            return ()
        problem = _bad_name(name)
        if problem:
            r.problem("capture.compose_file", problem)
            return ()
        return (name,)
    names = r.get(table, "capture", "compose_files", list, [])
    if names is None:
        return ()
    for name in names:
        problem = _bad_name(name)
        if problem:
            r.problem("capture.compose_files", problem)
            return ()
    if len(set(names)) != len(names):
        r.problem("capture.compose_files", "names a file twice")
        return ()
    if "compose_files" in table and not names:
        r.problem("capture.compose_files", "must name at least one file")
    return tuple(names)


def resolve_compose_files(capture, environ: Mapping[str, str] | None = None) -> list[str]:
    """The compose files of the project, in ``-f`` order (see the module docstring)."""
    if capture.compose_files:
        return list(capture.compose_files)
    env = os.environ if environ is None else environ
    from_env = [name for name in compose_files_from_env(env.get("COMPOSE_FILE")) if _bad_name(name) is None]
    if from_env:
        return from_env
    try:
        existing = [p.name for p in Path(capture.source_dir).iterdir() if p.is_file()]
    except OSError:
        existing = []
    return default_compose_files(existing) or [FALLBACK]


def default_compose_files(existing: Iterable[str]) -> list[str]:
    """The files ``docker compose`` would read from a directory holding ``existing`` names:
    the first of :data:`DEFAULT_COMPOSE_FILES` and its override file, if any."""
    names = set(existing)
    for base in DEFAULT_COMPOSE_FILES:
        if base in names:
            override = next((o for o in _OVERRIDES[base] if o in names), None)
            return [base] + ([override] if override else [])
    return []


def compose_files_from_env(value: str | None) -> list[str]:
    """``COMPOSE_FILE`` as compose reads it: names separated by the OS path separator."""
    if not value:
        return []
    return [part for part in value.split(os.pathsep) if part]
