"""A compose project written the way real projects write it, on the real sandbox.

``sandbox/realworld.sh`` puts project "shop" beside the demo: compose.yaml with x- extension
fields, anchors, ``<<:`` merge keys, flow maps, a long-form volume and a folded string, plus
compose.override.yaml, which moves the service to port 19181 (compose.yaml alone says 19081).
The console picks both files as ``docker compose`` would, detects the host's compose flavour,
captures two releases with ``--build`` and rolls back from the second to the first.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import httpx
import pytest
import tomli_w

from console.release.release_log import ReleaseLog
from tests.conftest import ROOT, sandbox_env

pytestmark = pytest.mark.sandbox
STATE = ROOT / "sandbox" / ".state"
PORT, BASE_PORT = 19181, 19081


def env() -> dict[str, str]:
    values = sandbox_env()
    for line in (STATE / "realworld-env.sh").read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            values[key] = value.strip("'")
    return values


def cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console", *args, "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
        env=env(),
    )


def version_on(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5, trust_env=False).json().get("version")
    except (httpx.HTTPError, ValueError):
        return None


@pytest.fixture
def shop(sandbox_config_path, tmp_path) -> tuple[Path, Path]:
    """The sandbox's realworld.toml with its source tree, release log, state and artifacts in tmp_path."""
    data = tomllib.loads((STATE / "realworld.toml").read_text())
    src = tmp_path / "src"
    shutil.copytree(data["capture"]["source_dir"], src)
    data["capture"]["source_dir"] = str(src)
    data["capture"]["local_artifacts_dir"] = str(tmp_path / "artifacts")
    data["paths"] = {"state_dir": str(tmp_path / "state"), "release_log": str(tmp_path / "releases.toml")}
    config = tmp_path / "realworld.toml"
    config.write_text(tomli_w.dumps(data))
    return config, src


def test_capture_and_rollback_of_a_real_world_stack(shop, tmp_path):
    config, src = shop
    run = secrets.token_hex(3)
    first, second = f"rw1-{run}", f"rw2-{run}"

    for tag in (first, second):
        (src / "api" / "RELEASE").write_text(f"{tag}\n")
        result = cli(config, "capture", "--tag", tag, "--build", "--source-tag", tag, "--skip-db")
        out = result.stdout + result.stderr
        assert result.returncode == 0, out[-4000:]
        assert "compose model:" in result.stdout
        if shutil.which("docker-compose") and not shutil.which("docker-buildx"):
            assert "compose model: resolved by docker-compose config" in result.stdout
        assert "building with" in result.stdout, result.stdout[-2000:]
        assert f"building shop-api:{tag} from ./api" in result.stdout, result.stdout[-3000:]

    # The bundle holds both files, pinned to the registry image, written as they were written.
    with tarfile.open(tmp_path / "artifacts" / f"{first}-compose.tar.gz") as tar:
        compose = tar.extractfile("compose.yaml").read().decode()
        override = tar.extractfile("compose.override.yaml").read().decode()
    assert compose.startswith("# Shop API: a compose file as real projects write it.")
    assert "<<: *service" in compose and "x-logging: &logging" in compose
    assert 'logging: {driver: json-file, options: {max-size: "10m", max-file: "3"}}' in compose
    assert f"image: 127.0.0.1:5000/shop-api:{first}" in compose and "build:" not in compose
    assert f'PORT: "{PORT}"' in override

    dry = cli(config, "rollback", "--to", second, "--dry-run")
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-3000:]
    assert "compose: docker-compose (detected on the host: docker-compose)" in dry.stdout
    assert "-f /opt/shop/compose.yaml -f /opt/shop/compose.override.yaml" in dry.stdout

    # Deploy the second release over what runs, then roll back to the first.
    for tag in (second, first):
        result = cli(config, "rollback", "--to", tag, "--yes")
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        assert version_on(PORT) == tag
    assert version_on(BASE_PORT) is None  # the override's port, not compose.yaml's own
    log = ReleaseLog.load(tmp_path / "releases.toml")
    assert log.deployed == first
    assert log.get(second).bad
