#!/usr/bin/env python3
"""A local stand-in for Slack incoming webhooks and the Statuspage REST API.

Routes (all on 127.0.0.1):
  POST  /slack/<token...>                          Slack webhook: 200 "ok" | 400 "invalid_payload"
  GET   /statuspage/v1/pages/<page>/incidents       list incidents
  POST  /statuspage/v1/pages/<page>/incidents       201 + incident JSON (with "id")
  PATCH /statuspage/v1/pages/<page>/incidents/<id>  200 + incident JSON
  GET   /alerts/unacknowledged                      the alerting system's open, unacknowledged alerts
                                                   (a list; [] once everything is acknowledged)
  POST  /_control  {"fail": 3, "mode": "500"|"hang", "route"?: "slack"|"statuspage"}
                   {"alerts": [{...}]} sets the unacknowledged alerts
                   {"reset": true} forgets incidents, requests, alerts and failures
  GET   /_control/requests                          the recorded requests

Statuspage calls need ``Authorization: OAuth <key>`` (the key given with
--api-key, or any non-empty key); with --slack-token only that webhook path
is accepted (404 ``no_service`` otherwise, as Slack answers). Every request is appended to the --record
JSON Lines file with its credential masked, so the recording itself is safe
to keep next to a demo.

Standalone: ``python sandbox/mock_services.py --port 18090 --record FILE``
prints the base URL on stdout and serves until interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

STATUSES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("none", "minor", "major", "critical")
INCIDENTS_RE = re.compile(r"^/statuspage/v1/pages/([A-Za-z0-9_-]+)/incidents(?:/([A-Za-z0-9_-]+))?/?$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MockState:
    """Everything the server knows; shared by handler threads under one lock."""

    def __init__(
        self, record: Path | None, api_key: str | None, hang_seconds: float, slack_token: str | None = None
    ) -> None:
        self.lock = threading.Lock()
        self.record = record
        self.api_key = api_key
        self.slack_token = slack_token
        self.hang_seconds = hang_seconds
        self.requests: list[dict] = []
        self.incidents: dict[str, dict] = {}
        self.alerts: list[dict] = []
        self.fail_count = 0
        self.fail_mode = "500"
        self.fail_route: str | None = None
        self.stopping = threading.Event()
        self._ids = itertools.count(1)

    def new_id(self) -> str:
        return f"inc{next(self._ids):04d}"

    def take_failure(self, route: str) -> str | None:
        with self.lock:
            if self.fail_count > 0 and self.fail_route in (None, route):
                self.fail_count -= 1
                return self.fail_mode
        return None

    def log(self, entry: dict) -> None:
        with self.lock:
            self.requests.append(entry)
            if self.record is not None:
                with open(self.record, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True) + "\n")


class Handler(BaseHTTPRequestHandler):
    server_version = "mock-services/1"
    state: MockState  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the record file says it all
        pass

    # -- plumbing ------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        raw = self._body()
        route, masked = self._route()
        entry: dict[str, Any] = {
            "ts": _now(),
            "method": method,
            "path": masked,
            "route": route,
            "content_type": self.headers.get("Content-Type"),
        }
        try:
            entry["body"] = json.loads(raw) if raw else None
        except ValueError:
            entry["body"] = raw.decode("utf-8", "replace")
        if route in ("slack", "statuspage"):
            mode = self.state.take_failure(route)
            if mode == "hang":
                entry["status"] = "hang"
                self.state.log(entry)
                # Hold the connection like a stuck upstream, but let shutdown end it.
                self.state.stopping.wait(self.state.hang_seconds)
                self.close_connection = True
                return
            if mode is not None:
                entry["status"] = 500
                self.state.log(entry)
                self._reply(500, "internal_error", "text/plain")
                return
        status, body, ctype = self._dispatch(method, route, entry)
        entry["status"] = status
        if route != "control":
            self.state.log(entry)
        self._reply(status, body, ctype)

    def _route(self) -> tuple[str, str]:
        path = self.path.split("?", 1)[0]
        if path.startswith("/slack/"):
            return "slack", "/slack/<token>"
        if path.startswith("/statuspage/"):
            return "statuspage", path
        if path.startswith("/_control"):
            return "control", path
        if path.rstrip("/") == "/alerts/unacknowledged":
            return "alerts", path
        return "unknown", path

    def _dispatch(self, method: str, route: str, entry: dict) -> tuple[int, Any, str]:
        if route == "slack":
            return self._slack(method, entry)
        if route == "statuspage":
            return self._statuspage(method, entry)
        if route == "control":
            return self._control(method, entry)
        if route == "alerts":
            if method != "GET":
                return 405, {"error": "method not allowed"}, "application/json"
            with self.state.lock:
                return 200, list(self.state.alerts), "application/json"
        return 404, {"error": "not found"}, "application/json"

    # -- Slack ---------------------------------------------------------------

    def _slack(self, method: str, entry: dict) -> tuple[int, Any, str]:
        if method != "POST":
            return 405, "invalid_method", "text/plain"
        token = self.path.split("?", 1)[0][len("/slack/") :]
        if not token or (self.state.slack_token is not None and token != self.state.slack_token):
            return 404, "no_service", "text/plain"
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        body = entry["body"]
        if (
            ctype != "application/json"
            or not isinstance(body, dict)
            or not isinstance(body.get("text"), str)
            or not body["text"].strip()
        ):
            return 400, "invalid_payload", "text/plain"
        if "blocks" in body and not isinstance(body["blocks"], list):
            return 400, "invalid_blocks", "text/plain"
        return 200, "ok", "text/plain"

    # -- Statuspage ----------------------------------------------------------

    def _statuspage(self, method: str, entry: dict) -> tuple[int, Any, str]:
        match = INCIDENTS_RE.match(self.path.split("?", 1)[0])
        if not match:
            return 404, {"error": "not found"}, "application/json"
        auth = self.headers.get("Authorization") or ""
        key = auth[len("OAuth ") :] if auth.startswith("OAuth ") else ""
        entry["authorized"] = bool(key) and (self.state.api_key is None or key == self.state.api_key)
        if not entry["authorized"]:
            return 401, {"error": "Could not authenticate"}, "application/json"
        page, incident_id = match.groups()
        if method == "GET":
            with self.state.lock:
                if incident_id:
                    found = self.state.incidents.get(incident_id)
                    if found:
                        return 200, found, "application/json"
                    return 404, {"error": "not found"}, "application/json"
                return 200, [i for i in self.state.incidents.values() if i["page_id"] == page], "application/json"
        body = entry["body"]
        incident = body.get("incident") if isinstance(body, dict) else None
        if not isinstance(incident, dict):
            return 422, {"error": "incident is missing"}, "application/json"
        problem = _validate_incident(incident, creating=method == "POST")
        if problem:
            return 422, {"error": problem}, "application/json"
        now = _now()
        with self.state.lock:
            if method == "POST" and incident_id is None:
                new_id = self.state.new_id()
                record = {
                    "id": new_id,
                    "page_id": page,
                    "name": incident["name"],
                    "status": incident["status"],
                    "impact": incident.get("impact_override", "none"),
                    "component_ids": list(incident.get("component_ids", [])),
                    "created_at": now,
                    "updated_at": now,
                    "resolved_at": now if incident["status"] == "resolved" else None,
                    "incident_updates": [_update(new_id, incident, now)],
                }
                self.state.incidents[new_id] = record
                return 201, record, "application/json"
            if method == "PATCH" and incident_id is not None:
                record = self.state.incidents.get(incident_id)
                if record is None or record["page_id"] != page:
                    return 404, {"error": "incident not found"}, "application/json"
                for key in ("name", "status", "component_ids"):
                    if key in incident:
                        record[key] = incident[key]
                record["updated_at"] = now
                if incident.get("status") == "resolved":
                    record["resolved_at"] = now
                if "status" in incident or "body" in incident:
                    record["incident_updates"].insert(0, _update(incident_id, {**record, **incident}, now))
                return 200, record, "application/json"
        return 405, {"error": "method not allowed"}, "application/json"

    # -- control -------------------------------------------------------------

    def _control(self, method: str, entry: dict) -> tuple[int, Any, str]:
        path = self.path.split("?", 1)[0].rstrip("/")
        if method == "GET" and path == "/_control/requests":
            with self.state.lock:
                return 200, list(self.state.requests), "application/json"
        if method != "POST" or path != "/_control":
            return 404, {"error": "not found"}, "application/json"
        body = entry["body"] if isinstance(entry["body"], dict) else {}
        with self.state.lock:
            if body.get("reset"):
                self.state.requests.clear()
                self.state.incidents.clear()
                self.state.alerts.clear()
                self.state.fail_count = 0
            if "alerts" in body:
                if not isinstance(body["alerts"], list):
                    return 400, {"error": "alerts must be a list"}, "application/json"
                self.state.alerts = list(body["alerts"])
            if "fail" in body:
                mode = str(body.get("mode", "500"))
                if mode not in ("500", "hang") or not isinstance(body["fail"], int) or body["fail"] < 0:
                    return 400, {"error": 'fail must be a count and mode "500" or "hang"'}, "application/json"
                self.state.fail_count = body["fail"]
                self.state.fail_mode = mode
                self.state.fail_route = body.get("route")
            return (
                200,
                {"fail": self.state.fail_count, "mode": self.state.fail_mode, "route": self.state.fail_route},
                "application/json",
            )

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")


def _validate_incident(incident: dict, *, creating: bool) -> str | None:
    if creating and not (isinstance(incident.get("name"), str) and incident["name"].strip()):
        return "name can't be blank"
    if "status" in incident and incident["status"] not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}"
    if creating and "status" not in incident:
        return "status is required"
    if "body" in incident and not isinstance(incident["body"], str):
        return "body must be a string"
    ids = incident.get("component_ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return "component_ids must be a list of strings"
    if "impact_override" in incident and incident["impact_override"] not in IMPACTS:
        return f"impact_override must be one of {', '.join(IMPACTS)}"
    return None


def _update(incident_id: str, incident: dict, now: str) -> dict:
    return {
        "id": f"{incident_id}-u{now[-10:-1].replace('.', '')}",
        "incident_id": incident_id,
        "status": incident.get("status"),
        "body": incident.get("body", ""),
        "created_at": now,
    }


class MockServices:
    """Start in a thread (tests) or serve in the foreground (demo)."""

    def __init__(
        self,
        port: int = 0,
        *,
        record: Path | None = None,
        api_key: str | None = None,
        slack_token: str | None = None,
        hang_seconds: float = 30.0,
    ) -> None:
        self.state = MockState(Path(record) if record else None, api_key, hang_seconds, slack_token)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def slack_url(self, token: str = "T000/B000/XXXX") -> str:
        return f"{self.base_url}/slack/{token}"

    @property
    def statuspage_api_base(self) -> str:
        return f"{self.base_url}/statuspage/v1"

    @property
    def requests(self) -> list[dict]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def incidents(self) -> dict[str, dict]:
        with self.state.lock:
            return json.loads(json.dumps(self.state.incidents))

    def fail(self, count: int, mode: str = "500", route: str | None = None) -> None:
        with self.state.lock:
            self.state.fail_count, self.state.fail_mode, self.state.fail_route = count, mode, route

    def start(self) -> str:
        # A short poll interval makes stop() quick (shutdown waits for one poll).
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="mock-services", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self.state.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockServices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--record", type=Path, help="append every request to this JSON Lines file")
    parser.add_argument("--api-key", help="the only Statuspage key accepted (default: any)")
    parser.add_argument("--slack-token", help="the only webhook path accepted after /slack/ (default: any)")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    services = MockServices(
        args.port,
        record=args.record,
        api_key=args.api_key,
        slack_token=args.slack_token,
        hang_seconds=args.hang_seconds,
    )
    print(services.base_url, flush=True)
    print(
        f"slack webhook: {services.base_url}/slack/<token>; statuspage api_base: {services.statuspage_api_base}",
        file=sys.stderr,
        flush=True,
    )
    try:
        services.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        services.state.stopping.set()
        services.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
