"""The coordinator's UI preferences (the theme), kept in the state dir between runs."""

from __future__ import annotations

import os
from pathlib import Path

FILE = "ui.json"


def load_theme(state_dir: Path) -> str | None:
    try:
        text = (Path(state_dir) / FILE).read_text("utf-8")
    except OSError:  # never toggled: the default theme, without importing json (~1.3 ms of start-up)
        return None
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return None
    theme = data.get("theme") if isinstance(data, dict) else None
    return theme if isinstance(theme, str) else None


def save_theme(state_dir: Path, theme: str) -> None:
    """Atomically; a preference that cannot be saved is not worth an error."""
    import json

    path = Path(state_dir) / FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{FILE}.part")
        tmp.write_text(json.dumps({"theme": theme}) + "\n", "utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
