"""The rollback target cannot be had: refused before anything on the host changes.

Bundle pruned from the artifacts dir; image gone from the host and from the registry;
the registry down while the images are not on the host. (The registry down during
capture: tests/test_capture_sandbox.py::test_registry_down_gives_a_clear_error_and_no_record.)
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from console.config import load_config
from console.engine.context import StepContext
from console.engine.image_checks import ON_HOST_KEY, skip_pull_if_on_host
from tests.conftest import host
from tests.faults._support import cli, journal_records, temp_config

pytestmark = pytest.mark.faults

GONE = "sha256:" + "0" * 63 + "1"


def test_a_pull_is_skipped_only_for_an_image_the_check_found_on_the_host():
    from tests._engine_support import EXAMPLE

    ctx = StepContext(load_config(EXAMPLE), None, None)
    when = skip_pull_if_on_host("mr-dj-backend")
    assert when(ctx) is None  # not checked: pull
    ctx.state[ON_HOST_KEY] = {"mr-dj-frontend"}
    assert when(ctx) is None
    ctx.state[ON_HOST_KEY] = {"mr-dj-backend"}
    assert "on the host already" in when(ctx)


def test_image_presence_builders():
    import shlex

    from console.commands.images import image_present, registry_has

    ref = f"registry.example.com/mr-dj-backend@{GONE}"
    assert shlex.join(image_present(ref)) == f"docker image inspect --format '{{{{.Id}}}}' {ref}"
    assert shlex.join(registry_has("registry.example.com", ref)) == f"docker manifest inspect {ref}"
    local = f"127.0.0.1:5000/mr-dj-backend@{GONE}"
    assert shlex.join(registry_has("127.0.0.1:5000", local)) == f"docker manifest inspect --insecure {local}"
    assert "--insecure" in registry_has("localhost:5000", f"localhost:5000/x@{GONE}")


def backend_version():
    try:
        return httpx.get("http://127.0.0.1:18081/api/health", timeout=5, trust_env=False).json().get("version")
    except httpx.HTTPError:
        return None


PREFLIGHT = {"verify_artifacts", "inspect_bundle", "images_available", "disk_space", "migration_check"}


def refused_before_any_change(config_path, failing_step: str) -> str:
    config = load_config(config_path)
    result = cli(config_path, "rollback", "--to", "v1", "--yes")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    records = journal_records(config)
    started = [r.step_id for r in records if r.kind == "step_started"]
    failed = [r for r in records if r.kind == "step_failed"]
    # The read-only preflight runs at once (console.engine.together): a check that reads what is gone
    # beside the failing one may fail too; the first in step order is the one decided on (stopped).
    assert failing_step in [r.step_id for r in failed], failed
    assert {r.step_id for r in failed} <= PREFLIGHT, failed
    assert [r.step_id for r in records if r.kind == "step_choice"] == [failing_step]
    assert "maintenance_on" not in started and "compose_down" not in started
    assert not any(r.kind == "lock" for r in records)  # the lock was never even taken
    assert backend_version() == "v2"  # still running what was deployed
    message = next(r.message for r in failed if r.step_id == failing_step)
    assert "nothing was changed" in message
    return message


@pytest.mark.sandbox
def test_a_pruned_bundle_is_refused_before_any_change(fresh_sandbox, tmp_path):
    config = load_config(fresh_sandbox)
    pruned = f"/tmp/faults-artifacts-{uuid.uuid4().hex[:8]}"  # the artifacts dir after a prune
    made = host(config, f"mkdir -p {pruned} && cp {config.target.artifacts_dir}/SHA256SUMS.txt {pruned}/")
    assert made.returncode == 0, made.stderr
    try:
        path = temp_config(fresh_sandbox, tmp_path, edit=lambda d: d["target"].update(artifacts_dir=pruned))
        message = refused_before_any_change(path, "verify_artifacts")
        assert "v1-compose.tar.gz is missing on the host" in message
    finally:
        host(config, f"rm -rf {pruned}")


def forget_backend_digest(releases):
    v1 = next(r for r in releases["releases"] if r["tag"] == "v1")
    assert v1.get("pushed"), "the sandbox's v1 is expected to be in the registry"
    v1["images"]["mr-dj-backend"]["digest"] = GONE  # pruned from the host and deleted from the registry


@pytest.mark.sandbox
def test_an_image_gone_from_host_and_registry_is_refused_before_any_change(fresh_sandbox, tmp_path):
    path = temp_config(fresh_sandbox, tmp_path, edit_releases=forget_backend_digest)
    message = refused_before_any_change(path, "images_available")
    assert f"mr-dj-backend@{GONE} is not on the host, and the registry cannot give it" in message


@pytest.mark.sandbox
def test_the_registry_down_with_images_not_on_the_host_is_refused_before_any_change(fresh_sandbox, tmp_path):
    path = temp_config(fresh_sandbox, tmp_path, edit=lambda d: d["registry"].update(url="127.0.0.1:5999"))
    message = refused_before_any_change(path, "images_available")
    assert "127.0.0.1:5999/mr-dj-backend@sha256:" in message and "registry cannot give it" in message
