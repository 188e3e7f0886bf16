"""The team's own deploy command (the runbook's ``./deploy.sh``), run on the host in the project dir."""

from __future__ import annotations

from collections.abc import Iterable

from console.commands.base import sh, user_argv
from console.validate import require_remote_path, require_tag


def team_deploy(project_dir: str, command: Iterable[str], tag: str) -> list[str]:
    """``cd PROJECT_DIR && exec COMMAND... TAG``: the directory, the command and the tag travel as
    positional parameters, never inside the script text."""
    return sh(
        'cd "$1" || exit 125; shift; exec "$@"',
        require_remote_path(project_dir, "project directory"),
        *user_argv(command, "deploy command"),
        require_tag(tag),
    )
