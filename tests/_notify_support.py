"""Shared by the notify tests: the mock Slack/Statuspage server and configs pointing at it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from console.config import Slack, StatusPage
from console.secrets import SecretRef
from sandbox.mock_services import MockServices

SLACK_TOKEN = "T0SECRET/B0SECRET/hooksecretvalue123"
API_KEY = "sp-api-key-s3cr3t-0123456789"
ENV_FILE_VALUE = "postgres://app:envfilepassword42@db/app"


@pytest.fixture
def mock_services(tmp_path: Path):
    services = MockServices(
        record=tmp_path / "mock-requests.jsonl", api_key=API_KEY, slack_token=SLACK_TOKEN, hang_seconds=5
    )
    services.start()
    try:
        yield services
    finally:
        services.stop()


def environ_for(services: MockServices) -> dict[str, str]:
    return {
        "SLACK_WEBHOOK_URL": services.slack_url(SLACK_TOKEN),
        "STATUSPAGE_API_KEY": API_KEY,
        "DATABASE_URL": ENV_FILE_VALUE,
    }


def slack_config() -> Slack:
    return Slack(webhook_url=SecretRef("SLACK_WEBHOOK_URL"), channel="#ops")


def statuspage_config(api_base: str) -> StatusPage:
    return StatusPage(
        api_base=api_base, page_id="page42", api_key=SecretRef("STATUSPAGE_API_KEY"), component_ids=["comp1"]
    )


def refused_port() -> int:
    """A loopback port with nothing listening (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JournalSpy:
    """Collects ``journal.record`` calls like the real Journal would receive them."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def __call__(self, type_: str, **fields) -> dict:
        entry = {"type": type_, **fields}
        self.records.append(entry)
        return entry
