"""How a target is named to people: ``user@host:port``. Light on purpose: the TUI's header needs it
before anything else of the engine is imported."""

from __future__ import annotations

from console.config import Config


def target_label(config: Config) -> str:
    t = config.target
    return f"{t.user}@{t.host}:{t.port}" if t.user else f"{t.host}:{t.port}"
