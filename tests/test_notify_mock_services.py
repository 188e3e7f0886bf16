"""The mock Slack/Statuspage server must answer like the real services, or the
notify tests prove nothing."""

import json
import subprocess
import sys
from pathlib import Path

import httpx

from _notify_support import API_KEY, SLACK_TOKEN, mock_services  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def test_slack_route_checks_content_type_text_and_token(mock_services):
    url = mock_services.slack_url(SLACK_TOKEN)
    assert httpx.post(url, json={"text": "hi"}).text == "ok"
    form = httpx.post(url, content=b'{"text": "hi"}', headers={"Content-Type": "text/plain"})
    assert (form.status_code, form.text) == (400, "invalid_payload")
    assert httpx.post(url, json={"blocks": []}).status_code == 400
    wrong = httpx.post(mock_services.slack_url("T/B/wrong"), json={"text": "hi"})
    assert (wrong.status_code, wrong.text) == (404, "no_service")


def test_statuspage_route_checks_auth_shape_and_keeps_updates(mock_services):
    base = f"{mock_services.statuspage_api_base}/pages/p1/incidents"
    auth = {"Authorization": f"OAuth {API_KEY}"}
    body = {"incident": {"name": "Down", "status": "investigating", "body": "b", "component_ids": []}}
    assert httpx.post(base, json=body).status_code == 401
    assert httpx.post(base, json=body, headers={"Authorization": "Bearer " + API_KEY}).status_code == 401
    assert httpx.post(base, json={"incident": {"status": "investigating"}}, headers=auth).status_code == 422
    assert (
        httpx.post(base, json={"incident": {**body["incident"], "impact_override": "huge"}}, headers=auth).status_code
        == 422
    )
    created = httpx.post(base, json=body, headers=auth)
    assert created.status_code == 201
    incident = created.json()
    assert incident["status"] == "investigating" and len(incident["incident_updates"]) == 1
    patched = httpx.patch(
        f"{base}/{incident['id']}", json={"incident": {"status": "resolved", "body": "ok"}}, headers=auth
    )
    assert patched.status_code == 200 and patched.json()["resolved_at"]
    assert httpx.patch(f"{base}/nope", json={"incident": {"status": "resolved"}}, headers=auth).status_code == 404


def test_control_endpoint_injects_failures(mock_services):
    url = mock_services.slack_url(SLACK_TOKEN)
    answer = httpx.post(f"{mock_services.base_url}/_control", json={"fail": 2, "mode": "500"})
    assert answer.json() == {"fail": 2, "mode": "500", "route": None}
    assert [httpx.post(url, json={"text": "x"}).status_code for _ in range(3)] == [500, 500, 200]
    assert httpx.post(f"{mock_services.base_url}/_control", json={"fail": 1, "mode": "boom"}).status_code == 400
    recorded = httpx.get(f"{mock_services.base_url}/_control/requests").json()
    assert [r["status"] for r in recorded] == [500, 500, 200]


def test_alerts_route_lists_unacknowledged_alerts_set_through_control(mock_services):
    url = f"{mock_services.base_url}/alerts/unacknowledged"
    assert httpx.get(url).json() == []
    alert = {"name": "HighErrorRate", "service": "mr-dj-backend"}
    httpx.post(f"{mock_services.base_url}/_control", json={"alerts": [alert]})
    assert httpx.get(url).json() == [alert]
    assert httpx.post(f"{mock_services.base_url}/_control", json={"alerts": "none"}).status_code == 400
    httpx.post(f"{mock_services.base_url}/_control", json={"reset": True})
    assert httpx.get(url).json() == []


def test_record_file_masks_credentials(mock_services, tmp_path):
    httpx.post(mock_services.slack_url(SLACK_TOKEN), json={"text": "x"})
    httpx.post(
        f"{mock_services.statuspage_api_base}/pages/p1/incidents",
        json={"incident": {"name": "n", "status": "identified"}},
        headers={"Authorization": f"OAuth {API_KEY}"},
    )
    text = (tmp_path / "mock-requests.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["path"] for line in lines] == ["/slack/<token>", "/statuspage/v1/pages/p1/incidents"]
    assert SLACK_TOKEN not in text and API_KEY not in text


def test_standalone_process_prints_its_base_url(tmp_path):
    record = tmp_path / "rec.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "sandbox" / "mock_services.py"), "--port", "0", "--record", str(record)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        assert httpx.post(f"{base}/slack/T/B/X", json={"text": "demo"}).text == "ok"
        assert json.loads(record.read_text().splitlines()[0])["body"] == {"text": "demo"}
    finally:
        proc.terminate()
        proc.wait(timeout=5)
