"""Shell habits of the command line: completion scripts, and a quiet end when a pipe closes.

``incident-console completion bash|zsh`` prints a completion script (made by
shtab from the argument parser) that also completes incident ids (``resume``,
``report``) and release tags (``rollback --to``, ``hotfix --tag``, ``verify
--expect-version``) by asking ``incident-console _complete incidents|releases``,
which reads the config from ``$INCIDENT_CONSOLE_CONFIG`` or the default path.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from console.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:  # a plain TUI start builds no parser (~1.5 ms of import)
    import argparse

_BASH = """
_incident_console_ids() { compgen -W "$(incident-console _complete incidents 2>/dev/null)" -- "$1"; }
_incident_console_tags() { compgen -W "$(incident-console _complete releases 2>/dev/null)" -- "$1"; }
"""
_ZSH = """
_incident_console_ids() {
  local -a ids; ids=(${(f)"$(incident-console _complete incidents 2>/dev/null)"}); compadd -a ids
}
_incident_console_tags() {
  local -a tags; tags=(${(f)"$(incident-console _complete releases 2>/dev/null)"}); compadd -a tags
}
"""
IDS = {"bash": "_incident_console_ids", "zsh": "_incident_console_ids"}
TAGS = {"bash": "_incident_console_tags", "zsh": "_incident_console_tags"}
# (subcommand, option or positional dest) -> what completes it
COMPLETES = {
    ("resume", "id"): IDS,
    ("report", "id"): IDS,
    ("rollback", "to"): TAGS,
    ("hotfix", "tag"): TAGS,
    ("verify", "expect_version"): TAGS,
    ("capture", "source_tag"): None,
    ("rollback", "incident"): IDS,
    ("hotfix", "incident"): IDS,
    ("config-hotfix", "incident"): IDS,
    ("incident open", "deployed"): TAGS,
    **{(f"incident {verb}", "id"): IDS for verb in ("show", "decide", "tick", "waive", "retro", "resolve")},
}


def register_habits(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (subcommands, incident ids, release tags)")
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete in")
    p.set_defaults(handler=cmd_completion)
    p = sub.add_parser("_complete")  # not listed: what the completion scripts call
    p.add_argument("what", choices=("incidents", "releases"), help="what to list, one per line")
    p.set_defaults(handler=cmd_complete)


def cmd_completion(args) -> int:
    import shtab

    from console.cli.main import build_parser

    parser = build_parser()
    for name, command in _all_subparsers(parser):
        for action in command._actions:
            spec = COMPLETES.get((name, action.dest))
            if spec:
                action.complete = spec
    # shtab takes a preamble per shell as a dict (its annotation says str only)
    print(shtab.complete(parser, shell=args.shell, preamble={"bash": _BASH, "zsh": _ZSH}))  # type: ignore[arg-type]
    return EXIT_OK


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_subparsers(parser: argparse.ArgumentParser, prefix: str = ""):
    """(name, parser) of every subcommand, a nested one named ``incident show``."""
    for name, command in _subparsers(parser).items():
        yield prefix + name, command
        yield from _all_subparsers(command, f"{prefix}{name} ")


def cmd_complete(args) -> int:
    from console.config import ConfigError, find_config, load_config

    try:
        config = load_config(find_config(getattr(args, "config", None)))
    except ConfigError:
        return EXIT_BAD_INPUT
    if args.what == "incidents":
        from console.incident.listing import all_incidents

        for item in all_incidents(config.paths.state_dir):
            print(item.id)
        return EXIT_OK
    from console.release.release_log import ReleaseLog, ReleaseLogError

    try:
        log = ReleaseLog.load(config.paths.release_log)
    except ReleaseLogError:
        return EXIT_FAILED
    for tag in _tags(log):
        print(tag)
    return EXIT_OK


def _tags(log) -> list[str]:
    releases = getattr(log, "releases", None)
    if isinstance(releases, dict):
        return list(releases)
    if isinstance(releases, list):
        tags = [r.get("tag") if isinstance(r, dict) else getattr(r, "tag", None) for r in releases if r]
        return [str(tag) for tag in tags if tag]
    return []


def quiet_on_broken_pipe(run, argv) -> int:
    """Run the CLI; when the reader of stdout goes away (``| head``), stop quietly.

    Python's own advice: point stdout at /dev/null so the interpreter's final flush cannot
    raise a second time, and exit 1 (the output was cut short).
    """
    try:
        code = run(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
