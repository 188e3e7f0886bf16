"""The command the live log pane follows: ``docker compose logs -f`` for a compose stack, every
service's ``docker service logs -f`` for a swarm stack (console.commands.swarm), whose lines
arrive in the shape the pane already reads (console.live.logstream)."""

from __future__ import annotations

from console.commands.compose import ComposeCommands
from console.commands.swarm import SwarmCommands, is_swarm


def follow_command(config, tail: int) -> list[str]:
    if is_swarm(config.target):
        return SwarmCommands.for_target(config.target).logs_follow_all([s.name for s in config.services], tail)
    return ComposeCommands.for_target(config.target).logs_follow(tail=tail)
