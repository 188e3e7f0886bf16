"""Property-style: a value of the wrong type at any key of the config is a reported problem
with its key path (check-config exit 2), never a traceback."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from console.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
STAGING = {
    "project_dir": "/opt/mr-dj-staging",
    "project_name": "mr-dj-staging",
    "health": [{"name": "staging", "url": "http://127.0.0.1:28081/api/health"}],
}
PREREQUISITES = {
    "backup_check_command": ["true"],
    "backup_check_url": "https://b.example/x",
    "alerts_check_url": "https://a.example/y",
}
WRONG = {
    "int": 1,
    "str": "x",
    "bool": True,
    "float": 1.5,
    "list": [1, "a"],
    "table": {"a": 1},
    "tables": [{"a": 1}],
    "empty list": [],
    "negative": -3,
}


def full_example() -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["staging"] = STAGING
    data["prerequisites"] = PREREQUISITES
    return data


def key_paths(value, path=()):
    """Every key path of the config, tables and array items included (e.g. services[0].image)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*path, key)
            yield from key_paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            if isinstance(inner, dict):
                yield (*path, index)
                yield from key_paths(inner, (*path, index))


def dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def replaced(data: dict, path, value) -> dict:
    import copy

    data = copy.deepcopy(data)
    holder = data
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = value
    return data


PATHS = list(key_paths(full_example()))


def test_the_full_example_is_valid():
    parse_config(full_example(), EXAMPLE, environ={"USER": "tester"})
    assert len(PATHS) > 60


@pytest.mark.parametrize("kind", sorted(WRONG))
def test_a_wrong_type_anywhere_is_a_problem_with_its_key_path(kind):
    crashes, unnamed = [], []
    for path in PATHS:
        data = replaced(full_example(), path, WRONG[kind])
        try:
            parse_config(data, EXAMPLE, environ={"USER": "tester"})
        except ConfigError as exc:
            keys = [key for key, _ in exc.problems]
            name = dotted(path)
            # The problem names the key itself, or the table/array it sits in (for array items).
            if not any(
                k == name
                or k.startswith(name + ".")
                or k.startswith(name + "[")
                or name.startswith(k + ".")
                or name.startswith(k + "[")
                for k in keys
                if k
            ):
                unnamed.append((name, exc.problems))
        except Exception as exc:  # noqa: BLE001 - the property under test
            crashes.append(f"{dotted(path)} = {WRONG[kind]!r}: {type(exc).__name__}: {exc}")
    assert crashes == [], "\n".join(crashes)
    assert unnamed == []


@pytest.mark.parametrize("section", ["target", "staging"])
def test_check_config_reports_project_dir_of_the_wrong_type_and_exits_2(tmp_path, section):
    data = full_example()
    data[section]["project_dir"] = 1
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(data))
    done = subprocess.run(
        [sys.executable, "-m", "console", "check-config", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{section}.project_dir" in done.stdout + done.stderr
