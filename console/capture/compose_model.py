"""The release's compose model, resolved by a compose CLI where one is at hand.

``docker compose config --format json`` (v2) or ``docker-compose config`` (v1),
run in ``[capture] source_dir`` over every compose file, is the model Docker
itself will use: files layered, anchors and merges applied, variables
interpolated. Without a compose CLI (or when it refuses the files) the
console's own parse (:mod:`console.release.composefile`) layers the files instead, and
the capture says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.capture.errors import BadCaptureInput, CaptureError
from console.commands.compose import ComposeCommands
from console.config import Config
from console.release.composefile import ComposeParseError, merge_documents, parse_compose

CONFIG_TIMEOUT = 60


@dataclass(frozen=True)
class ComposeModel:
    document: Any
    source: str  # "docker compose config", "docker-compose config" or "own parse"
    note: str | None = None  # why the CLI was not used


def read_compose_files(config: Config, error: type[CaptureError] = CaptureError) -> dict[str, str]:
    """Every compose file of the release from ``[capture] source_dir``, in ``-f`` order."""
    texts = {}
    for name in config.capture.compose_files or (config.capture.compose_file,):
        path = Path(config.capture.source_dir) / name
        try:
            texts[name] = path.read_text("utf-8")
        except OSError as exc:
            raise error(f"cannot read the compose file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise error(f"the compose file {path} is not UTF-8 text") from None
    return texts


def own_model(texts: dict[str, str], error: type[CaptureError] = BadCaptureInput) -> Any:
    """The files (name -> text, in compose's ``-f`` order) merged by our own parser; a file it
    does not understand raises ``error``."""
    documents = []
    for name, text in texts.items():
        try:
            documents.append(parse_compose(text))
        except ComposeParseError as exc:
            raise error(f"compose file {name} not understood ({exc})") from None
    return merge_documents(documents)


def _local_flavours() -> list[str]:
    flavours = []
    if shutil.which("docker") and _quiet(["docker", "compose", "version"]):
        flavours.append("docker compose")
    if shutil.which("docker-compose"):
        flavours.append("docker-compose")
    return flavours


def _quiet(argv: list[str]) -> bool:
    try:
        return (
            subprocess.run(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=CONFIG_TIMEOUT
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def compose_model(
    config: Config, error: type[CaptureError] = BadCaptureInput, flavours: list[str] | None = None
) -> ComposeModel:
    """The resolved model (see the module docstring); the own parse always runs too, so a
    file that is not YAML is refused the same way with or without a compose CLI."""
    texts = read_compose_files(config, error)
    mine = own_model(texts, error)
    flavours = _local_flavours() if flavours is None else flavours
    if not flavours:
        return ComposeModel(mine, "own parse", "no compose CLI on this machine")
    flavour = flavours[0]
    source = Path(config.capture.source_dir).resolve()
    compose = ComposeCommands(flavour, config.target.project_name, str(source), list(texts))
    try:
        done = subprocess.run(
            compose.config_model(), cwd=source, capture_output=True, text=True, timeout=CONFIG_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ComposeModel(mine, "own parse", f"{flavour} config did not run ({type(exc).__name__})")
    if done.returncode != 0:
        # Its message may quote the file (an interpolated secret): name the failure only.
        return ComposeModel(mine, "own parse", f"{flavour} config exited {done.returncode}")
    try:
        document = json.loads(done.stdout) if flavour == "docker compose" else parse_compose(done.stdout)
    except (ValueError, ComposeParseError):
        return ComposeModel(mine, "own parse", f"{flavour} config printed no readable model")
    if not isinstance(document, dict):
        return ComposeModel(mine, "own parse", f"{flavour} config printed no readable model")
    return ComposeModel(document, f"{flavour} config")
