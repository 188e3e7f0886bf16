"""A health URL carrying credentials is refused by the config; credentials go in a header by reference."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from console.config import HealthCheck, load_config
from console.live.health import check_health
from console.secrets import SecretRef
from test_config import ROOT, example_with, problems_of, write

HEALTH = 'url = "https://mr-dj.example.com/api/health"'


@pytest.mark.parametrize(
    "url", ["https://ops:hunter2@mr-dj.example.com/api/health", "http://token@127.0.0.1:18081/api/health"]
)
def test_a_health_url_with_userinfo_is_refused_without_echoing_it(tmp_path, url):
    problems = problems_of(write(tmp_path, example_with(HEALTH, f'url = "{url}"')))
    assert "health[0].url" in problems
    message = problems["health[0].url"]
    assert "credentials" in message and "health[0].headers" in message and "env:" in message
    assert "hunter2" not in str(problems) and "token@" not in str(problems)


def test_prerequisite_urls_with_credentials_are_refused_too(tmp_path):
    text = example_with("# backup_check_url = ", "backup_check_url = ")
    text = text.replace("https://backups.example.com/api/latest", "https://u:secret@backups.example.com/x")
    problems = problems_of(write(tmp_path, text))
    assert "prerequisites.backup_check_url" in problems and "secret" not in str(problems)


def test_check_config_points_at_the_key_and_exits_2(tmp_path):
    path = write(tmp_path, example_with(HEALTH, 'url = "https://ops:hunter2@mr-dj.example.com/h"'))
    done = subprocess.run(
        [sys.executable, "-m", "console", "check-config", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 2
    assert "health[0].url" in done.stdout + done.stderr and "hunter2" not in done.stdout + done.stderr


def test_headers_are_secrets_by_reference_only(tmp_path):
    inline = example_with(
        'expect = { status = "ok" }', 'expect = { status = "ok" }\nheaders = { Authorization = "Bearer abc" }'
    )
    problems = problems_of(write(tmp_path, inline))
    assert "env:NAME" in problems["health[0].headers.Authorization"] and "abc" not in str(problems)
    ok = example_with(
        'expect = { status = "ok" }', 'expect = { status = "ok" }\nheaders = { Authorization = "env:HEALTH_AUTH" }'
    )
    config = load_config(write(tmp_path, ok))
    assert config.health[0].headers == {"Authorization": SecretRef("HEALTH_AUTH")}
    assert "HEALTH_AUTH" in repr(config.health[0]) and "Bearer" not in repr(config.health[0])


async def test_the_header_is_resolved_only_for_the_request(monkeypatch):
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization"))
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    check = HealthCheck(
        "backend",
        f"http://127.0.0.1:{server.server_address[1]}/h",
        version_key=None,
        headers={"Authorization": SecretRef("HEALTH_AUTH")},
    )
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            missing = await check_health(check, client)
            monkeypatch.setenv("HEALTH_AUTH", "Bearer s3cret")
            result = await check_health(check, client)
    finally:
        server.shutdown()
    assert not missing.ok and "HEALTH_AUTH is not set" in missing.error
    assert result.ok and seen == ["Bearer s3cret"]
    assert "s3cret" not in str(result.to_dict() if hasattr(result, "to_dict") else result)
