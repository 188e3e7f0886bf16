"""Parse ``compose ps`` output into service states.

Compose emits three forms: a JSON array (v2 before 2.21), one JSON object per line
(v2 2.21 and later), and v1's text table, which has no JSON mode. The form is
recognised from the output itself, so an upgrade of compose on the host does not
break the console.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from console.validate import require_project_name


class PsParseError(ValueError):
    """The output is not any form of ``compose ps`` we know."""


@dataclass(frozen=True)
class ServiceState:
    name: str  # container name
    service: str | None  # compose service; None when it cannot be derived
    state: str  # docker's word: running, exited, restarting, paused, created, dead...
    running: bool
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck
    exit_code: int | None  # only for containers that have stopped
    status: str = ""  # compose's own human text ("Up 2 minutes (healthy)", "Exit 1")
    one_off: bool = False  # a `run` container rather than the service itself


def parse_ps(output: str, flavour: str = "docker compose", project_name: str | None = None) -> list[ServiceState]:
    """``flavour`` is the target's compose_command; ``project_name`` lets v1 names map to services."""
    text = output.strip()
    if not text:
        return []
    if text[0] in "[{":
        return _parse_json(text)
    # Not stripped: the header's leading blanks place its words over their columns.
    return _parse_v1_table(output, project_name)


# -- v2 JSON -------------------------------------------------------------------------------


def _parse_json(text: str) -> list[ServiceState]:
    if text[0] == "[":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PsParseError(f"compose ps printed a broken JSON array: {exc}") from None
    else:
        items = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise PsParseError(f"compose ps printed a broken JSON line: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PsParseError("compose ps JSON is not a list of objects")
    return [_from_json(item) for item in items]


def _from_json(item: dict) -> ServiceState:
    raw_state = str(item.get("State") or "").strip()
    status = str(item.get("Status") or "")
    state = raw_state.lower()
    if state.startswith("up"):  # early v2 releases put the human text in State
        state = "running"
    health = str(item.get("Health") or "").strip().lower() or _health_from_status(status or raw_state)
    running = state == "running"
    exit_code = None
    if state in ("exited", "dead"):
        code = item.get("ExitCode")
        exit_code = code if isinstance(code, int) and not isinstance(code, bool) else _exit_from_status(status)
    labels = item.get("Labels")
    name = str(item.get("Name") or item.get("Names") or "")
    one_off = (isinstance(labels, str) and "com.docker.compose.oneoff=True" in labels) or re.search(
        r"[-_]run[-_][0-9a-f]{12}$", name
    ) is not None
    return ServiceState(
        name=name,
        service=str(item["Service"]) if item.get("Service") else None,
        state=state or "unknown",
        running=running,
        health=health or None,
        exit_code=exit_code,
        status=status or raw_state,
        one_off=one_off,
    )


def _health_from_status(status: str) -> str | None:
    match = re.search(r"\((healthy|unhealthy|health: starting)\)", status)
    if match is None:
        return None
    return "starting" if match[1] == "health: starting" else match[1]


def _exit_from_status(status: str) -> int | None:
    match = re.search(r"Exit(?:ed)? \(?(-?\d+)\)?", status)
    return int(match[1]) if match else None


# -- v1 text table ---------------------------------------------------------------------------
#
#                 Name                       Command               State           Ports
# --------------------------------------------------------------------------------------------
# mr-dj_mr-dj-backend_1   docker-entrypoint.sh npm ...   Up (healthy)   0.0.0.0:3000->3000/tcp
#
# compose v1 draws this with texttable: cells left-aligned and padded, columns separated by
# three spaces, headers centred, and (when COLUMNS is narrow) cells wrapped onto extra lines.
# Column starts are therefore found as runs of blanks common to every line, placed between
# the header words; a row starts where the State cell starts with a state word.

_V1_STATE = re.compile(r"Up(?: \((?:healthy|unhealthy|health: starting)\))?|Exit -?\d+|Restarting|Paused|Ghost")
_V1_STATE_START = re.compile(r"(?:Up|Exit|Restarting|Paused|Ghost)\b")
_V1_HEADER = ["Name", "Command", "State", "Ports"]


def _parse_v1_table(output: str, project_name: str | None) -> list[ServiceState]:
    lines = [line.rstrip("\r") for line in output.splitlines()]
    header = next((i for i, line in enumerate(lines) if line.split() == _V1_HEADER), None)
    if header is None or header + 1 >= len(lines) or set(lines[header + 1].strip()) != {"-"}:
        raise PsParseError("compose ps output is neither JSON nor the docker-compose v1 table")
    body = [line for line in lines[header + 2 :] if line.strip()]
    if not body:
        return []
    command_at, state_at, ports_at = _v1_columns(lines[header], body)
    rows: list[tuple[str, list[str]]] = []
    for line in body:
        name_part, state_part = line[:command_at].strip(), line[state_at:ports_at].strip()
        if _V1_STATE_START.match(state_part):
            rows.append((name_part, [state_part]))
        elif rows:
            # A wrapped cell: names break without spaces, states at their spaces.
            name, state = rows[-1]
            rows[-1] = (name + name_part, state + ([state_part] if state_part else []))
        else:
            raise PsParseError(f"compose ps table row without a state: {line.strip()!r}")
    states = []
    for name, parts in rows:
        text = " ".join(parts)
        if _V1_STATE.fullmatch(text) is None:
            raise PsParseError(f"unknown state {text!r} of container {name!r} in compose ps output")
        states.append(_from_v1(name, text, project_name))
    return states


def _v1_columns(header: str, body: list[str]) -> tuple[int, int, int]:
    grid = [header, *body]
    width = max(len(line) for line in grid)
    blank = [all(p >= len(line) or line[p] == " " for line in grid) for p in range(width)]
    runs, start = [], None
    for p, is_blank in enumerate([*blank, False]):
        if is_blank and start is None:
            start = p
        elif not is_blank and start is not None:
            if p - start >= 3:
                runs.append((start, p))
            start = None
    words = [m.span() for m in re.finditer(r"\S+", header)]

    def between(k: int) -> list[tuple[int, int]]:
        return [r for r in runs if r[0] >= words[k][1] and r[1] <= words[k + 1][0]]

    # Names and states never hold three blanks in a row; commands may, so the Command
    # column is bounded by the first gap after Name and the last gap before State.
    gaps = [between(0)[:1], between(1)[-1:], between(2)[:1]]
    if not all(gaps):
        raise PsParseError("cannot find the columns of the docker-compose v1 ps table")
    return gaps[0][0][1], gaps[1][0][1], gaps[2][0][1]


def _from_v1(name: str, text: str, project_name: str | None) -> ServiceState:
    service, one_off = _v1_service(name, project_name)
    if text.startswith("Up"):
        return ServiceState(name, service, "running", True, _health_from_status(text), None, text, one_off)
    if text.startswith("Exit"):
        return ServiceState(name, service, "exited", False, None, int(text.split()[1]), text, one_off)
    return ServiceState(name, service, text.lower(), False, None, None, text, one_off)


def _v1_service(name: str, project_name: str | None) -> tuple[str | None, bool]:
    """``<project>_<service>_<n>``, ``<project>_<service>_run_<n|slug>`` (one-off containers)."""
    if project_name is None:
        return None, False
    # v1 drops characters other than [-_a-z0-9] from the project name in container names.
    prefix = re.sub(r"[^-_a-z0-9]", "", require_project_name(project_name).lower())
    match = re.fullmatch(
        re.escape(prefix) + r"_(?P<service>[A-Za-z0-9][A-Za-z0-9_.-]*?)(?P<run>_run)?"
        r"_(?:\d+|[0-9a-f]{12})(?:_[0-9a-f]{12})?",
        name,
    )
    if match is None:
        return None, False
    return match["service"], bool(match["run"])
