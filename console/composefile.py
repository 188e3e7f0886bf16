"""The block-style YAML subset compose files are written in, and their keys as a flat map.

The console compares two releases' ``docker-compose.yml`` without a YAML
dependency: compose files keep to mappings, lists, plain and quoted scalars,
flow lists/maps on one line and ``|``/``>`` block scalars. Anything else
(anchors, aliases, tags, multi-line flow) raises :class:`ComposeParseError`
so the caller can fall back to a cruder comparison instead of guessing.

Values can be secrets (``environment: DATABASE_URL: postgres://...``), so the
flat map holds *digests* of values, salted per comparison, and no error
message ever quotes a line of the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

# A mapping key: quoted, or plain text up to the first ": " (or ":" at the end).
_KEY_RE = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\[\]{},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)"""
                     r"""\s*:(?:\s+|$)""")
_UNSUPPORTED_START = ("&", "*", "!", "%", "@", "`")

# Keys whose list form "NAME=value" is really a mapping (compose allows both).
_LIST_AS_MAPPING = {"environment", "labels", "args", "extra_hosts", "sysctls"}


class ComposeParseError(ValueError):
    """The text is outside the supported subset; the message names a line, never its content."""


@dataclass
class _Line:
    number: int     # 1-based, for messages
    indent: int
    text: str       # without indentation; may still hold a trailing comment


def parse_compose(text: str) -> Any:
    """Parse block-style YAML (the compose subset) into dicts, lists and strings."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.raw = text.splitlines()
        self.lines: list[_Line] = []
        for number, line in enumerate(self.raw, 1):
            if "\t" in line[: len(line) - len(line.lstrip())]:
                raise ComposeParseError(f"line {number}: tab in indentation")
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped in ("---", "...") and not line.startswith(" "):
                if self.lines and stripped == "---":
                    raise ComposeParseError(f"line {number}: more than one YAML document")
                continue
            self.lines.append(_Line(number, len(line) - len(line.lstrip(" ")), stripped))
        self.i = 0

    def parse(self) -> Any:
        if not self.lines:
            return None
        value = self.block(self.lines[0].indent)
        if self.i < len(self.lines):
            raise ComposeParseError(f"line {self.lines[self.i].number}: unexpected indentation")
        return value

    # -- blocks ---------------------------------------------------------------

    def block(self, indent: int) -> Any:
        line = self.lines[self.i]
        if _is_item(line.text):
            return self.sequence(indent)
        if _KEY_RE.match(line.text):
            return self.mapping(indent)
        # A lone scalar document (not something compose writes, but harmless).
        self.i += 1
        return self.scalar(line.text, line)

    def mapping(self, indent: int) -> dict:
        result: dict[str, Any] = {}
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.indent < indent:
                break
            if line.indent > indent:
                raise ComposeParseError(f"line {line.number}: unexpected indentation")
            if _is_item(line.text):
                break
            match = _KEY_RE.match(line.text)
            if not match:
                raise ComposeParseError(f"line {line.number}: expected a 'key: value' entry")
            key = _unquote(match.group(1), line) if match.group(1)[0] in "\"'" else match.group(1).strip()
            if key in result:
                raise ComposeParseError(f"line {line.number}: duplicate key")
            if key == "<<" and match.group(1) == "<<":
                raise ComposeParseError(f"line {line.number}: merge keys (<<) are not supported")
            rest = line.text[match.end():]
            self.i += 1
            result[key] = self.value_after_key(rest, indent, line)
        return result

    def value_after_key(self, rest: str, indent: int, line: _Line) -> Any:
        rest = _strip_comment(rest)
        if rest and rest[0] in "|>":
            return self.block_scalar(rest, indent, line)
        if rest:
            return self.scalar(rest, line)
        if self.i >= len(self.lines):
            return None
        following = self.lines[self.i]
        if following.indent > indent:
            return self.block(following.indent)
        if following.indent == indent and _is_item(following.text):
            return self.sequence(indent)   # "key:\n- item" at the key's own indentation
        return None

    def sequence(self, indent: int) -> list:
        result: list[Any] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.indent != indent or not _is_item(line.text):
                if line.indent > indent:
                    raise ComposeParseError(f"line {line.number}: unexpected indentation")
                break
            content = line.text[1:].lstrip(" ")
            if not _strip_comment(content):
                self.i += 1
                if self.i < len(self.lines) and self.lines[self.i].indent > indent:
                    result.append(self.block(self.lines[self.i].indent))
                else:
                    result.append(None)
                continue
            # "- key: value" opens a mapping (or "- - x" a list) indented at the content.
            offset = len(line.text) - len(content)
            self.lines[self.i] = _Line(line.number, indent + offset, content)
            if _is_item(content) or _KEY_RE.match(content):
                result.append(self.block(indent + offset))
            else:
                self.i += 1
                result.append(self.scalar(content, line))
        return result

    def block_scalar(self, header: str, indent: int, line: _Line) -> str:
        if not re.fullmatch(r"[|>][+-]?[1-9]?|[|>][1-9][+-]", header):
            raise ComposeParseError(f"line {line.number}: unsupported block scalar header")
        # Block scalars keep blank lines and '#', so read them from the raw text.
        body: list[str] = []
        raw_index = line.number   # the raw line after the header (0-based index = number)
        while raw_index < len(self.raw):
            raw = self.raw[raw_index]
            if raw.strip() and len(raw) - len(raw.lstrip(" ")) <= indent:
                break
            body.append(raw)
            raw_index += 1
        while self.i < len(self.lines) and self.lines[self.i].number <= raw_index:
            self.i += 1
        while body and not body[-1].strip():
            body.pop()
        widths = [len(b) - len(b.lstrip(" ")) for b in body if b.strip()]
        cut = min(widths) if widths else 0
        lines = [b[cut:] for b in body]
        if header[0] == ">":
            return " ".join(part for part in lines if part) + "\n"
        return "\n".join(lines) + "\n"

    # -- scalars --------------------------------------------------------------

    def scalar(self, text: str, line: _Line) -> Any:
        text = text.strip()
        if text[:1] in "\"'":
            end = _closing_quote(text)
            if end is None:
                raise ComposeParseError(f"line {line.number}: unterminated quoted string "
                                        "(multi-line strings are not supported)")
            if _strip_comment(text[end + 1:]):
                raise ComposeParseError(f"line {line.number}: text after a quoted string")
            return _unquote(text[: end + 1], line)
        text = _strip_comment(text)
        if text.startswith(_UNSUPPORTED_START) or re.fullmatch(r"[|>][+-]?[1-9]?", text):
            raise ComposeParseError(f"line {line.number}: anchors, aliases, tags and block scalars "
                                    "here are not supported")
        if text.startswith("["):
            return self.flow_list(text, line)
        if text.startswith("{"):
            return self.flow_map(text, line)
        return text

    def flow_list(self, text: str, line: _Line) -> list:
        if not text.endswith("]") or any(c in text[1:-1] for c in "[]{}"):
            raise ComposeParseError(f"line {line.number}: only one-line, unnested flow lists are supported")
        inner = text[1:-1].strip()
        return [self.scalar(part, line) for part in _split_flow(inner, line)] if inner else []

    def flow_map(self, text: str, line: _Line) -> dict:
        if not text.endswith("}") or any(c in text[1:-1] for c in "[]{}"):
            raise ComposeParseError(f"line {line.number}: only one-line, unnested flow maps are supported")
        inner = text[1:-1].strip()
        result: dict[str, Any] = {}
        for part in _split_flow(inner, line) if inner else []:
            match = _KEY_RE.match(part + (" " if part.endswith(":") else ""))
            if not match:
                raise ComposeParseError(f"line {line.number}: expected 'key: value' in a flow map")
            key = _unquote(match.group(1), line) if match.group(1)[0] in "\"'" else match.group(1).strip()
            rest = part[match.end():].strip()
            result[key] = self.scalar(rest, line) if rest else None
        return result


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _strip_comment(text: str) -> str:
    """Drop a trailing ``# comment`` (a '#' starts one only after whitespace)."""
    if text.startswith("#"):
        return ""
    match = re.search(r"\s#", text)
    return (text[: match.start()] if match else text).strip()


def _closing_quote(text: str) -> int | None:
    quote, i = text[0], 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            if quote == "'" and text[i + 1: i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return None


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "0": "\0", "r": "\r"}


def _unquote(text: str, line: _Line) -> str:
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1: i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            raise ComposeParseError(f"line {line.number}: unsupported escape in a quoted string")
        out.append(c)
        i += 1
    return "".join(out)


def _split_flow(inner: str, line: _Line) -> list[str]:
    parts, current, quote = [], [], None
    for c in inner:
        if quote:
            current.append(c)
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            current.append(c)
        elif c == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(c)
    if quote:
        raise ComposeParseError(f"line {line.number}: unterminated quoted string")
    last = "".join(current).strip()
    if last:
        parts.append(last)
    return parts


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
