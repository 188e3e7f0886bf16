"""Compose files read as Docker reads them, and their keys as a flat map.

Parsing is PyYAML's job (its C safe loader where libyaml is present), with the
YAML 1.2 core schema Docker's Go parser uses: ``yes``/``on`` stay strings and
``8080:80`` is not a base-60 number. Anchors, aliases, ``<<:`` merge keys,
flow collections, block scalars and a UTF-8 BOM are all ordinary YAML. A
duplicate key is refused, as ``docker compose`` refuses it.

Values can be secrets (``environment: DATABASE_URL: postgres://...``), so the
flat map holds *digests* of values, salted per comparison, and no error
message ever quotes a line of the file: a YAML error names its line and the
kind of problem, with any quoted text from the file blanked out.

Which files make the project: :func:`default_compose_files` picks what
``docker compose`` itself would pick (``compose.yaml``... plus the matching
override file); :func:`merge_documents` layers several files the way compose
does, for when no compose CLI is at hand to resolve them.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import yaml

# compose's own file choice lives with the project's files (no YAML needed to load a config)
from console.release.compose_project import (  # noqa: F401 (re-exported)
    DEFAULT_COMPOSE_FILES,
    compose_files_from_env,
    default_compose_files,
)

# Keys whose list form "NAME=value" is really a mapping (compose allows both).
_LIST_AS_MAPPING = {"environment", "labels", "args", "extra_hosts", "sysctls"}


class ComposeParseError(ValueError):
    """The text is not a compose document; the message names a line, never its content."""


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ComposeLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader with YAML 1.2 core scalars and duplicate keys refused."""

    yaml_implicit_resolvers: dict = {}

    def _refuse_duplicates(self, node) -> None:
        # Checked once per node, before PyYAML flattens <<: merges into it (a merged key
        # overridden by the mapping's own key is not a duplicate; two own keys are).
        checked = self.__dict__.setdefault("_checked", set())
        if id(node) in checked:
            return
        checked.add(id(node))
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(None, None, "duplicate key", key_node.start_mark)
            seen.add(key_node.value)

    def flatten_mapping(self, node):
        self._refuse_duplicates(node)
        super().flatten_mapping(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self._refuse_duplicates(node)
        return super().construct_mapping(node, deep=deep)


_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_ComposeLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _int_12(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


_ComposeLoader.add_constructor("tag:yaml.org,2002:int", _int_12)
# Compose's own tags (v2.24+): `!reset` drops an inherited value, `!override` replaces it.
_ComposeLoader.add_constructor("!reset", lambda loader, node: None)
_ComposeLoader.add_constructor(
    "!override",
    lambda loader, node: (
        loader.construct_mapping(node)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_sequence(node)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_scalar(node)
    ),
)
_QUOTED = re.compile(r"'[^']{2,}'|\"[^\"]{2,}\"")


def parse_compose(text: str) -> Any:
    """Parse one compose file (one YAML document) into dicts, lists and scalars."""
    text = text.removeprefix("\ufeff")
    try:
        documents = list(yaml.load_all(text, Loader=_ComposeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}" if mark is not None else "somewhere"
        # The problem text can quote a token of the file ("found undefined alias 'x'"): blank it.
        problem = _QUOTED.sub("'…'", exc.problem or exc.context or "not valid YAML")
        raise ComposeParseError(f"{line}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ComposeParseError(f"not valid YAML ({type(exc).__name__})") from None
    if len(documents) > 1:
        raise ComposeParseError("line 1: more than one YAML document in a compose file")
    return documents[0] if documents else None


def merge_documents(documents: list[Any]) -> Any:
    """Several compose files layered the way compose layers them (later files win; mappings
    merge key by key; ``ports``/``expose``/``volumes`` lists... are replaced here, which is
    enough to read images, builds and settings when no compose CLI can resolve the model)."""
    merged: Any = None
    for document in documents:
        merged = _merge(merged, document)
    return merged


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return over if over is not None or base is None else base


# -- comparing ------------------------------------------------------------------


def flatten(document: Any, salt: bytes = b"") -> dict[str, str]:
    """Every leaf of the compose document as ``dotted.key → digest of its value``.

    Mappings are walked (``services.mr-dj-backend.image``); a list is one value,
    except the ``NAME=value`` lists compose treats as mappings (environment,
    labels...), which become ``...environment.NAME``. Only digests come out.
    """
    flat: dict[str, str] = {}
    _walk(document, "", flat, salt)
    return flat


def _walk(node: Any, prefix: str, flat: dict[str, str], salt: bytes) -> None:
    name = prefix.rsplit(".", 1)[-1]
    if isinstance(node, list) and name in _LIST_AS_MAPPING and all(isinstance(v, str) for v in node):
        node = dict(_split_assignment(v) for v in node)
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _walk(value, f"{prefix}.{key}" if prefix else str(key), flat, salt)
        return
    flat[prefix or "(document)"] = _digest(node, salt)


def _split_assignment(item: str) -> tuple[str, str | None]:
    key, sep, value = item.partition("=")
    return key.strip(), (value if sep else None)


def _digest(value: Any, salt: bytes) -> str:
    data = json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(salt + data).hexdigest()


def diff_flat(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str]]:
    """``(key, "added" | "removed" | "changed")`` in key order."""
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            changes.append((key, "added"))
        elif key not in new:
            changes.append((key, "removed"))
        elif old[key] != new[key]:
            changes.append((key, "changed"))
    return changes


def top_level_blocks(text: str, salt: bytes = b"") -> dict[str, str]:
    """The fallback for text outside the subset: each top-level key's block, as a digest.

    Good enough to say *which* part of the file changed ("services") without
    understanding it, and without quoting it.
    """
    blocks: dict[str, list[str]] = {}
    current = "(preamble)"
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and ":" in line:
            current = line.split(":", 1)[0].strip().strip("\"'") or current
            blocks.setdefault(current, [])
        blocks.setdefault(current, []).append(line.rstrip())
    return {key: _digest(lines, salt) for key, lines in blocks.items()}
