"""Database snapshot helpers: the URL stays out of argv; row counts are compared (no sandbox)."""

from __future__ import annotations

import pytest

from console.capture.database import PostgresTools, compare_counts, pg_environment, scratch_name
from console.capture.errors import CaptureError
from console.capture.images import _push_failure, stream_error
from console.secrets import Secret

URL = "postgresql://mrdj:s3cr%40t-pass@127.0.0.1:55432/mrdj?sslmode=disable"


def test_pg_environment_carries_the_url_in_pg_variables():
    env = pg_environment(Secret(URL), base={"PATH": "/bin", "PGPASSWORD": "stale", "PGHOST": "elsewhere"})
    assert env == {
        "PATH": "/bin",
        "PGHOST": "127.0.0.1",
        "PGPORT": "55432",
        "PGUSER": "mrdj",
        "PGPASSWORD": "s3cr@t-pass",
        "PGDATABASE": "mrdj",
        "PGSSLMODE": "disable",
    }


def test_pg_environment_refuses_other_schemes_without_quoting_the_url():
    with pytest.raises(CaptureError) as exc:
        pg_environment(Secret("mysql://root:topsecret@db/x", source="env:DATABASE_URL"))
    assert "topsecret" not in str(exc.value)


def test_tools_never_put_the_secret_on_argv(monkeypatch):
    seen = {}

    def fake_run(argv, **kwargs):
        seen["argv"], seen["env"] = argv, kwargs["env"]
        raise FileNotFoundError

    monkeypatch.setattr("console.capture.database.subprocess.run", fake_run)
    tools = PostgresTools(Secret(URL))
    with pytest.raises(CaptureError, match="not found"):
        tools.query("select 1")
    assert not any("s3cr" in a or "postgresql://" in a for a in seen["argv"])
    assert seen["env"]["PGPASSWORD"] == "s3cr@t-pass"


def test_tool_errors_are_redacted():
    tools = PostgresTools(Secret(URL))
    assert "s3cr@t-pass" not in tools.clean("FATAL: bad password s3cr@t-pass for " + URL)


def test_compare_counts_names_every_difference():
    assert compare_counts({"public.a": 1}, {"public.a": 1}) == []
    problems = compare_counts({"public.a": 2, "public.b": 0}, {"public.a": 1, "public.c": 0})
    assert problems == [
        "table public.a: 2 rows in the source, 1 restored",
        "table public.b missing after restore",
        "table public.c appeared after restore",
    ]


def test_scratch_names_are_random_and_safe():
    a, b = scratch_name(), scratch_name()
    assert a != b and a.startswith("mrdj_verify_") and a.replace("_", "").isalnum()


def test_push_stream_errors_are_recognised_and_worded():
    assert stream_error({"status": "Pushing", "id": "abc"}) is None
    assert stream_error({"errorDetail": {"message": "denied"}, "error": "denied"}) == "denied"
    msg = 'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused'
    assert _push_failure("127.0.0.1:5999", "r/x:v3", msg).startswith("registry 127.0.0.1:5999 unreachable: ")
    assert _push_failure("r", "r/x:v3", "denied: requested access").startswith("push of r/x:v3")
