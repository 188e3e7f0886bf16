"""The headless command line: the same engine the TUI drives, for scripts and 3 a.m. SSH sessions.

Exit codes: 0 success, 1 procedure failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import gc
import sys

from console import __version__
from console.config import ConfigError, load_config
from console.config_loader import load_config_or_exit, print_config_error
from console.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "build_parser", "load_or_exit", "main", "print_config_error"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-console",
        description="Guided, recorded rollbacks and hotfixes of Docker Compose services over SSH.")
    parser.add_argument("--version", action="version", version=f"incident-console {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (default: $INCIDENT_CONSOLE_CONFIG "
                        "or ~/.config/incident-console/config.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check-config", help="validate a config file; exit 0 or list every problem and exit 2")
    check.add_argument("path", metavar="PATH")

    from console.cli_commands import register
    register(sub)
    return parser


load_or_exit = load_config_or_exit   # the name older callers use


def check_config(path: str) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_BAD_INPUT
    print(f"{path}: OK (target {config.target.user}@{config.target.host}:{config.target.port}, "
          f"{len(config.services)} services, {len(config.health)} health checks)")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "check-config":
        return check_config(args.path)
    if args.command is None:
        config = load_or_exit(args.config)
        # No collector passes while the TUI imports and draws its first frame (~40 ms of start-up,
        # bench/bench_startup.py); the app freezes what it built and turns the collector back on.
        gc.disable()
        from screens.app import make_app  # the TUI is imported only when it is opened
        make_app(config, freeze_gc=True).run()
        return EXIT_OK
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
