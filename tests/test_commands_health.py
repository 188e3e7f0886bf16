import shlex
import shutil
import subprocess

import pytest

from console.commands import health
from console.validate import UnsafeValue
from tests._http_support import JSONServer


def test_curl_health():
    assert shlex.join(health.curl_health("https://staging.sevensa.nl/api/health", 5)) == (
        "curl -fsS --proto =http,https --max-time 5 https://staging.sevensa.nl/api/health"
    )
    assert shlex.join(health.curl_health("http://127.0.0.1:8080/health?full=1", 2.5)) == (
        "curl -fsS --proto =http,https --max-time 2.5 'http://127.0.0.1:8080/health?full=1'"
    )


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://x/health",
        "file:///etc/passwd",
        "https://x/a b",
        "https://x/a'b",
        'https://x/"',
        "https://x/\n",
        "https://x/a\\b",
        "https://user:pass@x/health",
        "",
        "-K /etc/passwd",
        "https://x/\u0661",
        "//x/health",
    ],
)
def test_urls_are_validated(bad):
    with pytest.raises(UnsafeValue, match="URL"):
        health.curl_health(bad, 5)


@pytest.mark.parametrize("bad", [0, -1, "5", True, 100000])
def test_timeouts_are_validated(bad):
    with pytest.raises(UnsafeValue, match="timeout"):
        health.curl_health("https://x/health", bad)


def test_parse_curl_status():
    assert health.parse_curl_status('{"status":"ok"}' + health.STATUS_MARKER + "200\n") == (200, '{"status":"ok"}')
    assert health.parse_curl_status("" + health.STATUS_MARKER + "000\n") == (None, "")
    assert health.parse_curl_status("no marker") == (None, "no marker")


@pytest.fixture
def local_server():
    with JSONServer() as http:
        http.answer("/health", 200, b'{"status":"ok","version":"v1"}')
        http.answer("/down", 503, b'{"status":"down"}')
        yield http.base_url


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_commands_against_a_local_server(local_server):
    ok = subprocess.run(
        ["sh", "-c", shlex.join(health.curl_health(local_server + "/health", 5))], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout == '{"status":"ok","version":"v1"}'
    down = subprocess.run(
        ["sh", "-c", shlex.join(health.curl_health(local_server + "/down", 5))], capture_output=True, text=True
    )
    assert down.returncode == 22
    status = subprocess.run(
        ["sh", "-c", shlex.join(health.curl_status(local_server + "/down", 5))], capture_output=True, text=True
    )
    assert status.returncode == 0
    assert health.parse_curl_status(status.stdout) == (503, '{"status":"down"}')
