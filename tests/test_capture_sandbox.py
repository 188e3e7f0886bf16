"""Release capture against the real sandbox: registry, dockerd, PostgreSQL, sshd.

Each test works on a copy of the sandbox config whose release log, state dir and
local artifacts dir live in tmp_path; the host side (/opt/artifacts, the stack)
is put back with ``sandbox/ctl reset`` around tests that change it. The --build test
uploads under a tag of its own (``v3-buildtest-<random>``), which the next reset removes.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
import tomllib
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
import requests
import tomli_w

from console.capture import database
from console.capture.release import CaptureReporter, capture_release
from console.config import load_config
from console.incident.journal import list_incidents
from console.release.release_log import ReleaseLog
from tests.conftest import ROOT, host, sandbox_env

pytestmark = pytest.mark.sandbox
CLI = [sys.executable, "-m", "console"]
SRC = ROOT / "sandbox" / ".state" / "src"
PG_SOCKET = ROOT / "sandbox" / ".state" / "pg" / "sock"


def cli(config_path, *args, timeout=900):
    return subprocess.run(
        [*CLI, "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=sandbox_env(),
    )


def health_version(port=18081):
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5, trust_env=False).json().get("version")
    except (httpx.HTTPError, ValueError):
        return None


def temp_config(sandbox_config: Path, tmp_path: Path, **registry) -> Path:
    """The sandbox config with its release log (a copy), state and local artifacts in tmp_path."""
    data = tomllib.loads(sandbox_config.read_text())
    release_log = Path(data["paths"]["release_log"])
    copy = tmp_path / "releases.toml"
    copy.write_bytes(release_log.read_bytes())
    data["paths"]["release_log"] = str(copy)
    data["paths"]["state_dir"] = str(tmp_path / "state")
    data["capture"]["local_artifacts_dir"] = str(tmp_path / "artifacts")
    data["registry"].update(registry)
    path = tmp_path / "console.toml"
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.fixture(scope="module")
def built_images(sandbox_config_path):
    """mr-dj-{backend,frontend}:latest built from the v3 working tree, as `docker-compose build` would."""
    env = sandbox_env()
    client = docker.DockerClient(base_url=env["DOCKER_HOST"])
    for svc in ("backend", "frontend"):
        client.images.build(path=str(SRC / svc), tag=f"mr-dj-{svc}:latest", rm=True)
    client.close()


@pytest.fixture
def sandbox_environ(monkeypatch):
    env = sandbox_env()
    for key in ("SANDBOX_DATABASE_URL", "DOCKER_HOST"):
        monkeypatch.setenv(key, env[key])
    return env


def _pg_admin(sql: str) -> str:
    result = subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-At",
            "-h",
            str(PG_SOCKET),
            "-p",
            "55432",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


PG_HBA = ROOT / "sandbox" / ".state" / "pg" / "data" / "pg_hba.conf"
SCRATCH_HBA = "host    all   mrdj      127.0.0.1/32   scram-sha-256   # incident-console capture tests\n"


@pytest.fixture
def createdb_privilege(sandbox_config_path):
    """Let the capture role create and reach its scratch database, as a production capture role
    must: CREATEDB plus a pg_hba.conf line for databases other than mrdj. Both are put back
    afterwards (the sandbox grants neither; see the report to the lead)."""
    before = _pg_admin("select rolcreatedb from pg_roles where rolname = 'mrdj'")
    hba = PG_HBA.read_text()
    _pg_admin("alter role mrdj createdb")
    if SCRATCH_HBA not in hba:
        with PG_HBA.open("a") as handle:
            handle.write(SCRATCH_HBA)
        _pg_admin("select pg_reload_conf()")
    yield
    if SCRATCH_HBA not in hba:
        PG_HBA.write_text(PG_HBA.read_text().replace(SCRATCH_HBA, ""))
        _pg_admin("select pg_reload_conf()")
    if before != "t":
        _pg_admin("alter role mrdj nocreatedb")


def _leftover_scratch_dbs() -> list[str]:
    out = _pg_admin("select datname from pg_database where datname like 'mrdj_verify_%'")
    return out.splitlines()


# -- 1. capture v3, then roll "back" to it through the CLI ----------------------------------------


def test_capture_v3_then_rollback_to_it(fresh_sandbox, built_images, createdb_privilege, tmp_path):
    config_path = temp_config(fresh_sandbox, tmp_path)
    captured = cli(config_path, "capture", "--tag", "v3")
    assert captured.returncode == 0, captured.stdout[-3000:] + captured.stderr[-3000:]
    env = sandbox_env()
    password = env["SANDBOX_DATABASE_URL"].split(":")[2].split("@")[0]
    backend_env = (SRC / "backend" / ".env").read_text()
    for text in (captured.stdout, captured.stderr, (tmp_path / "releases.toml").read_text()):
        assert password not in text
        assert "DATABASE_URL=" not in text and backend_env not in text
    # per-layer progress was reported (a layer pushed before is "already exists")
    assert re.search(r"mr-dj-backend:v3 [0-9a-f]{12}: (Pushed|Layer already exists)", captured.stdout)

    config = load_config(config_path)
    release = ReleaseLog.load(config.paths.release_log).get("v3")
    assert release is not None and release.pushed and release.verified
    assert release.migration_head == "002_add_booking_notes"
    assert release.extra["db_check"] == "scratch-restore"
    assert set(release.files) == {"v3-compose.tar.gz", "v3-images.tar", "v3-db.dump"}
    for name in ("mr-dj-backend", "mr-dj-frontend"):
        assert release.images[name]["ref"] == f"127.0.0.1:5000/{name}:v3"
        assert release.images[name]["digest"].startswith("sha256:")
        manifest = httpx.head(
            f"http://127.0.0.1:5000/v2/{name}/manifests/v3",
            trust_env=False,
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        assert manifest.headers.get("Docker-Content-Digest") == release.images[name]["digest"]
    sums = host(config, "cat /opt/artifacts/SHA256SUMS.txt").stdout
    for name, sha in release.files.items():
        assert sums.count(f"  {name}\n") == 1 and f"{sha}  {name}\n" in sums
    local_sums = (tmp_path / "artifacts" / "SHA256SUMS.txt").read_text()
    assert all(f"{sha}  {name}\n" in local_sums for name, sha in release.files.items())
    assert _leftover_scratch_dbs() == []

    rolled = cli(config_path, "rollback", "--to", "v3", "--yes")
    assert rolled.returncode == 0, rolled.stdout[-3000:] + rolled.stderr[-3000:]
    assert health_version(18081) == "v3"
    assert health_version(18082) == "v3"


# -- 2. a corrupted bundle is refused before any mutating step ------------------------------------


def test_corrupted_bundle_is_refused_before_any_mutation(fresh_sandbox, tmp_path):
    config_path = temp_config(fresh_sandbox, tmp_path)
    config = load_config(config_path)
    flip = host(
        config,
        "f=/opt/artifacts/v1-compose.tar.gz; "
        "b=$(dd if=$f bs=1 skip=200 count=1 2>/dev/null | od -An -tu1 | tr -d ' '); "
        'printf "\\\\$(printf %03o $(( b ^ 1 )))" | dd of=$f bs=1 seek=200 conv=notrunc 2>/dev/null',
    )
    assert flip.returncode == 0, flip.stderr
    result = cli(config_path, "rollback", "--to", "v1", "--yes")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "v1-compose.tar.gz" in result.stdout + result.stderr
    assert health_version(18081) == "v2"
    journals = list_incidents(config.paths.state_dir)
    assert len(journals) == 1
    records = list(journals[0].records())
    started = [r.step_id for r in records if r.kind == "step_started"]
    assert "verify_artifacts" in started
    assert "maintenance_on" not in started


# -- 3. registry down: a clear error and no release record ----------------------------------------


def test_registry_down_gives_a_clear_error_and_no_record(sandbox_config_path, built_images, tmp_path):
    config_path = temp_config(sandbox_config_path, tmp_path, url="127.0.0.1:5999")
    before = (tmp_path / "releases.toml").read_bytes()
    result = cli(config_path, "capture", "--tag", "v3-down", "--skip-db", timeout=300)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "registry 127.0.0.1:5999 unreachable" in result.stderr
    assert "nothing recorded" in result.stderr
    assert (tmp_path / "releases.toml").read_bytes() == before
    artifacts = tmp_path / "artifacts"
    assert not (artifacts / "SHA256SUMS.txt").exists()
    assert not artifacts.exists() or list(artifacts.iterdir()) == []


# -- 4. the snapshot is verified only when its restore check passes -------------------------------


def _tools(sandbox_environ):
    from console.secrets import Secret

    return database.PostgresTools(Secret(sandbox_environ["SANDBOX_DATABASE_URL"]))


def test_good_dump_is_verified_by_scratch_restore(sandbox_environ, createdb_privilege, tmp_path):
    tools = _tools(sandbox_environ)
    dump = database.dump_database(tools, tmp_path / "x-db.dump")
    counts = tools.row_counts()
    assert counts and "public.schema_migrations" in counts
    result = database.verify_dump(tools, dump, counts)
    assert result.verified, result.problems
    assert result.method == "scratch-restore" and result.restored_counts == counts
    assert _leftover_scratch_dbs() == []


def test_corrupted_dump_is_not_verified(sandbox_environ, createdb_privilege, tmp_path):
    tools = _tools(sandbox_environ)
    dump = database.dump_database(tools, tmp_path / "x-db.dump")
    counts = tools.row_counts()
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2])
    result = database.verify_dump(tools, dump, counts)
    assert not result.verified
    assert any("pg_restore" in p for p in result.problems), result.problems
    assert _leftover_scratch_dbs() == []


def test_row_count_mismatch_is_not_verified(sandbox_environ, createdb_privilege, tmp_path):
    tools = _tools(sandbox_environ)
    dump = database.dump_database(tools, tmp_path / "x-db.dump")
    counts = tools.row_counts()
    table = next(iter(counts))
    counts[table] += 1  # the source "has" one row the snapshot lacks
    result = database.verify_dump(tools, dump, counts)
    assert not result.verified
    assert result.problems == [f"table {table}: {counts[table]} rows in the source, {counts[table] - 1} restored"]


def test_capture_with_a_broken_dump_records_unverified(
    sandbox_environ, fresh_sandbox, built_images, createdb_privilege, tmp_path, monkeypatch
):
    real_dump = database.dump_database

    def truncating_dump(tools, path):
        real_dump(tools, path)
        path.write_bytes(path.read_bytes()[:200])
        return path

    monkeypatch.setattr(database, "dump_database", truncating_dump)
    config = load_config(temp_config(fresh_sandbox, tmp_path))
    warnings = []

    class Collect(CaptureReporter):
        def warning(self, message):
            warnings.append(message)

    result = asyncio.run(capture_release(config, "v3-baddump", push=False, reporter=Collect()))
    assert not result.verified
    release = ReleaseLog.load(config.paths.release_log).get("v3-baddump")
    assert release is not None and release.verified is False and release.pushed is False
    assert any("NOT verified" in w for w in warnings)


@pytest.fixture
def without_createdb(sandbox_config_path):
    """A capture role that may not create databases (the sandbox grants CREATEDB; put back afterwards)."""
    before = _pg_admin("select rolcreatedb from pg_roles where rolname = 'mrdj'")
    _pg_admin("alter role mrdj nocreatedb")
    yield
    if before == "t":
        _pg_admin("alter role mrdj createdb")


def test_without_createdb_the_archive_is_read_but_not_verified(sandbox_environ, tmp_path, without_createdb):
    tools = _tools(sandbox_environ)
    dump = database.dump_database(tools, tmp_path / "x-db.dump")
    counts = tools.row_counts()
    result = database.verify_dump(tools, dump, counts)
    assert result.method == "archive-read" and not result.verified
    assert result.restored_counts == counts  # every table's rows were decoded
    assert "CREATEDB" in result.problems[0]


# -- 5. --build builds from the compose file's build: contexts (runbook section 4, step 3) ---------


@pytest.fixture
def running_sandbox(request) -> Path:
    """The config of the sandbox already running (no `sandbox/ctl up` when its dockerd answers)."""
    config = ROOT / "sandbox" / ".state" / "console.toml"
    try:
        client = docker.DockerClient(base_url=sandbox_env()["DOCKER_HOST"], timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except (KeyError, docker.errors.DockerException, requests.RequestException):
        return request.getfixturevalue("sandbox_config_path")
    return config if config.exists() else request.getfixturevalue("sandbox_config_path")


def test_build_flag_builds_the_images_then_captures_them(running_sandbox, tmp_path):
    # Unique per run: the host's SHA256SUMS.txt keeps each artifact name once (until sandbox/ctl reset),
    # and an image left by an earlier run must not pass for this run's build.
    run = secrets.token_hex(3)
    tag, source_tag = f"v3-buildtest-{run}", f"buildtest-{run}"
    config_path = temp_config(running_sandbox, tmp_path)
    client = docker.DockerClient(base_url=sandbox_env()["DOCKER_HOST"])
    names = ("mr-dj-backend", "mr-dj-frontend")
    try:
        result = cli(
            config_path, "capture", "--tag", tag, "--build", "--source-tag", source_tag, "--no-push", "--skip-db"
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"building mr-dj-backend:{source_tag} from ./backend" in result.stdout
        assert f"building mr-dj-frontend:{source_tag} from ./frontend" in result.stdout
        assert "  Step 1/" in result.stdout and "FROM scratch" in result.stdout  # the build's own output

        release = ReleaseLog.load(tmp_path / "releases.toml").get(tag)
        assert release is not None and release.pushed is False and release.verified is False
        assert set(release.files) == {f"{tag}-compose.tar.gz", f"{tag}-images.tar"}
        for name in names:
            image = client.images.get(f"{name}:{source_tag}")
            labels = image.labels
            assert labels["org.opencontainers.image.version"] == "v3"
            assert labels["org.opencontainers.image.title"] == name
            assert release.images[name] == {"ref": f"127.0.0.1:5000/{name}:{tag}", "id": image.id}
    finally:
        for name in names:
            for ref in (f"{name}:{source_tag}", f"127.0.0.1:5000/{name}:{tag}"):
                try:
                    client.images.remove(ref, noprune=True)
                except docker.errors.DockerException:
                    pass
        client.close()
