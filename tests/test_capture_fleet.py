"""Capture for a fleet: the artifacts go to every host, at once, each upload proven on its host."""

from __future__ import annotations

import asyncio

import pytest

from console.capture import release
from console.capture.errors import CaptureError
from console.capture.targets import upload_targets
from console.config import load_config
from tests.test_fleet_config import fleet_config


class Report:
    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def upload_progress(self, *args) -> None:
        pass


def test_every_fleet_host_with_its_own_directory_gets_the_artifacts(tmp_path):
    config = load_config(fleet_config(tmp_path))
    targets = upload_targets(config)
    assert [label for label, _ in targets] == ["production", "web2", "web3", "staging"]
    assert [aimed.target.host for _, aimed in targets][:3] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_uploads_run_at_once_and_a_failed_host_is_named(tmp_path, monkeypatch):
    config = load_config(fleet_config(tmp_path))
    running: list[str] = []
    overlapped: list[bool] = []

    async def fake_upload_to(aimed, transport, files, hashes, report, label):
        running.append(label)
        await asyncio.sleep(0.05)
        overlapped.append(len(running) > 1)
        running.remove(label)
        if label == "web3":
            raise CaptureError("cannot reach the web3 host: connection refused")
        return {name: f"{aimed.target.artifacts_dir}/{name}" for name in files}

    monkeypatch.setattr(release, "_upload_to", fake_upload_to)
    with pytest.raises(CaptureError) as failed:
        asyncio.run(release._upload(config, None, {"v3-compose.tar.gz": tmp_path}, {}, Report()))
    assert "web3: cannot reach the web3 host" in str(failed.value) and "web2" not in str(failed.value)
    assert any(overlapped)  # the hosts were uploading at the same time


def test_a_fleet_capture_returns_the_first_host_s_paths(tmp_path, monkeypatch):
    config = load_config(fleet_config(tmp_path))

    async def fake_upload_to(aimed, transport, files, hashes, report, label):
        return {name: f"{aimed.target.host}:{name}" for name in files}

    monkeypatch.setattr(release, "_upload_to", fake_upload_to)
    report = Report()
    remote = asyncio.run(release._upload(config, None, {"v3-images.tar": tmp_path}, {}, report))
    assert remote == {"v3-images.tar": "10.0.0.1:v3-images.tar"}
    assert any("web2 10.0.0.2" in step for step in report.steps)
