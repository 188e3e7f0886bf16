"""Subcommands that drive the engine; filled in as the engine lands."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    return None
