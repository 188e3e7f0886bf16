"""Loading the config for a command: one way, used by every command (and the TUI).

A config with problems lists every one with its TOML key path and exits 2 (bad input).
"""

from __future__ import annotations

import sys

from console.cli.exit_codes import EXIT_BAD_INPUT
from console.config import Config, ConfigError, find_config, load_config


def print_config_error(exc: ConfigError) -> None:
    print(f"{exc.path}: configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
    for key, message in exc.problems:
        print(f"  {key or '(file)'}: {message}", file=sys.stderr)


def load_config_or_exit(path: str | None) -> Config:
    """The config at ``path`` (or found the usual way); on a problem, print it and exit 2."""
    try:
        return load_config(find_config(path))
    except ConfigError as exc:
        print_config_error(exc)
        raise SystemExit(EXIT_BAD_INPUT) from None
