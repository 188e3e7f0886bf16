"""The headless command line: the same engine the TUI drives, for scripts and 3 a.m. SSH sessions.

Exit codes: 0 success, 1 procedure failed, 2 bad input, 130 interrupted (console/cli/exit_codes.py).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, cast

from console import __version__
from console.cli.config_loader import load_config_or_exit, print_config_error
from console.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from console.config import ConfigError, load_config

if TYPE_CHECKING:  # a plain TUI start builds no parser (~1.5 ms of import)
    import argparse

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "build_parser", "load_or_exit", "main", "print_config_error"]


EXIT_CODES = "exit codes: 0 success, 1 procedure failed, 2 bad input, 130 interrupted by Ctrl-C (resumable)"
EXAMPLES = {
    None: "incident-console -c config.toml                # the TUI\n"
    "  incident-console rollback --dry-run -c config.toml",
    "check-config": "incident-console check-config ~/.config/incident-console/config.toml",
    "rollback": "incident-console rollback --to v1 --dry-run -c config.toml",
    "hotfix": "incident-console hotfix --tag v3 --monitor-minutes 10 -c config.toml",
    "config-hotfix": "BOOKING_NOTES_ENABLED=false incident-console config-hotfix --service mr-dj-backend "
    "--set BOOKING_NOTES_ENABLED",
    "verify": "incident-console verify --expect-version v1 --json",
    "incidents": "incident-console incidents --json | head -n 5",
    "resume": "incident-console resume 20261129-031500-ab12",
    "report": "incident-console report 20261129-031500-ab12 --out report.md",
    "unlock": "incident-console unlock --force",
    "capture": "incident-console capture --tag v3 --build --skip-db",
    "alerts": "incident-console alerts --silence --incident 20261129-031500-ab12",
    "status": "incident-console status --json | jq .disagreements",
    "record-deploy": "incident-console record-deploy v3   # deployed by CI, not by the console",
    "init": "incident-console init --host vps.example.com --user deploy --project shop --out shop.toml",
    "completion": "incident-console completion bash > ~/.local/share/bash-completion/completions/incident-console",
    "incident open": "incident-console incident open --deployed v2 -c config.toml",
    "incident show": "incident-console incident show 20261129-031500-ab12 --json",
    "incident decide": "incident-console incident decide 20261129-031500-ab12 rollback --answer customer_impact=yes",
    "incident tick": "incident-console incident tick 20261129-031500-ab12 backup_verified",
    "incident waive": 'incident-console incident waive 20261129-031500-ab12 support_informed --reason "told by phone"',
    "incident retro": 'incident-console incident retro 20261129-031500-ab12 --root-cause "bad config in v2"',
    "incident resolve": 'incident-console incident resolve 20261129-031500-ab12 --summary "rolled back v2 to v1"',
}


def _epilog(command: str | None) -> str:
    example = EXAMPLES.get(command)
    return f"{EXIT_CODES}\n\nexample:\n  {example}" if example else EXIT_CODES


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="incident-console",
        description="Guided, recorded rollbacks and hotfixes of Docker Compose services over SSH.",
        epilog=_epilog(None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"incident-console {__version__}", help="print the version and exit"
    )
    parser.add_argument("-c", "--config", metavar="PATH", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check-config", help="validate a config file; exit 0 or list every problem and exit 2")
    check.add_argument("path", metavar="PATH", help="the config file to check")

    from console.cli.commands import register

    register(sub)
    from console.cli.habits import register_habits

    register_habits(sub)
    for name, command in sub.choices.items():
        _add_habits(name, command)
    return parser


def _add_habits(name: str, command: argparse.ArgumentParser) -> None:
    """-c/--config after the subcommand too (SUPPRESS keeps one given before it), and the epilog;
    the same for the subcommands of a subcommand (``incident open -c PATH``)."""
    import argparse

    command.add_argument("-c", "--config", metavar="PATH", default=argparse.SUPPRESS, help=CONFIG_HELP)
    if not command.epilog:
        command.epilog = _epilog(name)
    elif EXIT_CODES not in command.epilog:  # its own examples (``incident``): the exit codes after them
        command.epilog = f"{command.epilog.rstrip()}\n\n{EXIT_CODES}"
    command.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for verb, nested in action.choices.items():
                _add_habits(f"{name} {verb}", nested)


CONFIG_HELP = "config file (default: $INCIDENT_CONSOLE_CONFIG or ~/.config/incident-console/config.toml)"


load_or_exit = load_config_or_exit  # the name older callers use


def check_config(path: str) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_BAD_INPUT
    if config.fleet is not None:
        fleet = config.fleet
        hosts = ", ".join(f"{h.name} {h.target.user}@{h.target.host}:{h.target.port}" for h in fleet.hosts)
        print(
            f"{path}: OK (fleet of {len(fleet.hosts)}: {hosts}; canary {fleet.canary or 'none'}, batches of "
            f"{fleet.batch_size}, migrations on {fleet.migrations_host or 'no host'}; {len(config.services)} services)"
        )
        return EXIT_OK
    engine = " (swarm manager)" if config.target.engine == "swarm" else ""
    print(
        f"{path}: OK (target {config.target.user}@{config.target.host}:{config.target.port}{engine}, "
        f"{len(config.services)} services, {len(config.health)} health checks)"
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    from console.cli.habits import quiet_on_broken_pipe

    return quiet_on_broken_pipe(_main, argv)


def _main(argv: list[str] | None = None) -> int:
    tui = tui_config_arg(sys.argv[1:] if argv is None else argv)
    if tui is not NOT_THE_TUI:  # the TUI needs no subcommand parsers (their modules: ~10 ms of start-up)
        return _run_tui(cast("str | None", tui))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "check-config":
        return check_config(args.path)
    if args.command is None:
        return _run_tui(args.config)
    return args.handler(args)


NOT_THE_TUI = object()


def tui_config_arg(argv: list[str]) -> str | None | object:
    """The ``--config`` of a plain TUI start (no arguments, or only ``-c/--config PATH``), else
    ``NOT_THE_TUI``: anything else (a subcommand, --help, a typo) goes through the whole parser."""
    if not argv:
        return None
    if len(argv) == 2 and argv[0] in ("-c", "--config") and argv[1] and not argv[1].startswith("-"):
        return argv[1]
    if len(argv) == 1 and argv[0].startswith("--config=") and len(argv[0]) > len("--config="):
        return argv[0][len("--config=") :]
    return NOT_THE_TUI


def _run_tui(config_path: str | None) -> int:
    config = load_or_exit(config_path)
    # No collector passes while the TUI imports and draws its first frame (~40 ms of start-up,
    # bench/bench_startup.py); the app freezes what it built and turns the collector back on.
    gc.disable()
    from screens.app import make_app  # the TUI is imported only when it is opened

    make_app(config, freeze_gc=True).run()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
