"""What the step-engine tests share: a decider scripted in advance and a config aimed at a local
project directory (the engine runs on LocalTransport)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from console.config import Config, load_config
from console.engine.runner import Choice

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


class ScriptedDecider:
    """Confirms (or not, ``confirm``), and answers failures with ``choices`` in turn, then aborts."""

    def __init__(self, confirm=True, choices=()):
        self.confirm_answer = confirm
        self.choices = list(choices)
        self.confirmed = []
        self.failures = []

    async def confirm(self, step, prompt):
        self.confirmed.append(step.id)
        return self.confirm_answer

    async def on_failure(self, step, failure):
        self.failures.append((step.id, failure.reason))
        return self.choices.pop(0) if self.choices else Choice("abort")


def local_config(tmp_path: Path) -> Config:
    """The example config, its project dir and state dir under ``tmp_path``."""
    base = load_config(EXAMPLE)
    target = dataclasses.replace(base.target, project_dir=str(tmp_path / "project"), command_timeout=30)
    (tmp_path / "project").mkdir()
    paths = dataclasses.replace(base.paths, state_dir=tmp_path / "state")
    return dataclasses.replace(base, target=target, paths=paths)
