"""The shape of every ``--json`` line: a schema version and a UTC timestamp, then the fields.

Kept apart from ``cli_output`` (which needs the engine) so that building the CLI parser stays light.
"""

from __future__ import annotations

import json
import time

JSON_SCHEMA_VERSION = 1


def json_line(fields: dict) -> str:
    """One ``--json`` line: the schema version and a UTC timestamp, then the line's own fields
    (an event's own ``ts`` wins)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"v": JSON_SCHEMA_VERSION, "ts": now, **fields}, default=str)
