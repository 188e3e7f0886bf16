"""A config hotfix's values (Step.stdin) never appear in a repr, a str, or a traceback with locals."""

from __future__ import annotations

import traceback

import pytest

from console.config import load_config
from console.engine.hotfix import build_config_hotfix
from console.secrets import SecretBytes
from console.transport.local import LocalTransport
from test_config import EXAMPLE

VALUE = "hunter2-plaintext-value"


def test_the_step_never_shows_its_stdin(monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", VALUE)
    config = load_config(EXAMPLE)
    procedure = build_config_hotfix(
        config,
        service="mr-dj-backend",
        env_file=None,
        keys=["DB_PASSWORD"],
        flag_command=None,
        undo_incident=None,
        incident_id="20261129-120000-abcd",
    )
    step = next(s for s in procedure.steps if s.id == "set_env_keys")
    assert isinstance(step.stdin, SecretBytes) and VALUE.encode() in step.stdin.reveal()
    for shown in (repr(step), str(step), repr(procedure), str(step.stdin), f"{step.stdin}", repr(step.describe())):
        assert VALUE not in shown


async def test_a_traceback_with_locals_through_the_transport_does_not_show_the_values():
    stdin = SecretBytes(f"DB_PASSWORD={VALUE}\n".encode())

    def crash(stream, lines):
        raise RuntimeError("a bug in an output listener")

    with pytest.raises(RuntimeError) as failed:
        await LocalTransport().run(["cat"], stdin=stdin, on_output=crash)
    shown = "".join(traceback.TracebackException.from_exception(failed.value, capture_locals=True).format())
    assert "stdin" in shown and VALUE not in shown


def test_a_refused_value_leaves_no_plaintext_in_the_traceback_locals():
    from console.commands import envfile
    from console.secrets import Secret
    from console.validate import UnsafeValue

    with pytest.raises(UnsafeValue) as failed:
        envfile.set_keys_stdin({"DB_PASSWORD": Secret(VALUE + "\nINJECTED=1")})
    shown = "".join(traceback.TracebackException.from_exception(failed.value, capture_locals=True).format())
    assert VALUE not in shown
