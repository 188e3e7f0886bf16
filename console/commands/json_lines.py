"""Reading what docker's CLI prints with ``--format '{{json ...}}'``: one JSON object a line."""

from __future__ import annotations

import json

EXCERPT = 120  # characters of an unreadable line quoted in the error


def json_lines(text: str, what: str, error: type[ValueError] = ValueError) -> list[dict]:
    """The objects in ``text``, one a line; blank lines are skipped.

    ``what`` names the command that printed them. A line that is not a JSON object raises
    ``error`` saying so, quoting the line's start as a repr (host output is data: its
    control characters come out escaped).
    """
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{what} printed a broken JSON line ({exc}): {line[:EXCERPT]!r}") from None
        if not isinstance(item, dict):
            raise error(f"{what} printed a JSON line that is not an object: {line[:EXCERPT]!r}")
        items.append(item)
    return items
