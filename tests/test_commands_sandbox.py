"""The builders run on the sandbox "VPS" over plain OpenSSH, as the transport runs them:
``shlex.join(argv)`` as the remote command. Read-only on the shared stack; the lock and the
env-file hotfix run in a private temporary directory on the host."""

import shlex
import subprocess
from pathlib import Path

import pytest

from console.commands import artifacts, envfile, health, lock
from console.commands.compose import ComposeCommands
from console.commands.ps import parse_ps
from console.config import load_config
from console.secrets import Secret, stdin_bytes

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def sandbox_config_path() -> Path:
    ctl = ROOT / "sandbox" / "ctl"
    if not ctl.exists():
        pytest.skip("sandbox/ctl is not there")
    result = subprocess.run([str(ctl), "up"], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0 or not result.stdout.strip():
        pytest.fail(f"sandbox/ctl up failed: {result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def config(sandbox_config_path):
    return load_config(sandbox_config_path)


@pytest.fixture(scope="session")
def remote(config):
    t = config.target
    assert t.host in ("127.0.0.1", "::1", "localhost")

    def run(argv, stdin: bytes = b"") -> subprocess.CompletedProcess:
        ssh = [
            "ssh",
            "-p",
            str(t.port),
            "-i",
            t.identity_file,
            "-o",
            f"UserKnownHostsFile={t.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            f"{t.user}@{t.host}",
            shlex.join(argv),
        ]
        return subprocess.run(ssh, input=stdin_bytes(stdin), capture_output=True, timeout=120)

    return run


@pytest.fixture
def host_tmp(remote):
    made = remote(["mktemp", "-d"])
    assert made.returncode == 0, made.stderr
    path = made.stdout.decode().strip()
    yield path
    remote(["rm", "-rf", "--", path])


def test_ps_output_of_the_real_compose_parses(config, remote):
    compose = ComposeCommands.for_target(config.target)
    result = remote(compose.ps())
    assert result.returncode == 0, result.stderr
    states = parse_ps(result.stdout.decode(), config.target.compose_command, config.target.project_name)
    names = {s.name for s in states}
    assert all(s.service is not None for s in states), names
    assert {s.service for s in states} <= {svc.name for svc in config.services}


def test_config_services_and_logs(config, remote):
    compose = ComposeCommands.for_target(config.target)
    services = remote(compose.config_services())
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.decode().split()) == {s.name for s in config.services}
    assert remote(compose.logs_tail(5)).returncode == 0


def test_bundle_listing_and_checksums_on_the_host(config, remote):
    t = config.target
    listing = remote(artifacts.list_bundle(t.artifacts_dir, "v1"))
    assert listing.returncode == 0, listing.stderr
    members = artifacts.parse_bundle_listing(listing.stdout.decode())
    assert "docker-compose.yml" in {m.name for m in members}
    assert artifacts.unsafe_members(members) == []
    listed = artifacts.parse_sha256sums(remote(artifacts.read_sha256sums(t.artifacts_dir)).stdout.decode())
    paths = [artifacts.bundle_path(t.artifacts_dir, "v1"), artifacts.images_path(t.artifacts_dir, "v1")]
    computed = artifacts.parse_sha256sums(remote(artifacts.sha256sum(paths)).stdout.decode())
    for name in ("v1-compose.tar.gz", "v1-images.tar"):
        assert artifacts.checksum_problem(name, listed, computed) is None


def test_env_keys_are_listed_without_values(config, remote):
    result = remote(envfile.list_env_keys(f"{config.target.project_dir}/backend/.env"))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "DATABASE_URL" in out.split() and "=" not in out and "postgres" not in out


def test_health_from_the_host(config, remote):
    check = config.health[0]
    result = remote(health.curl_status(check.url, check.timeout))
    assert result.returncode == 0, result.stderr
    status, _body = health.parse_curl_status(result.stdout.decode())
    assert isinstance(status, int)


def test_lock_round_trip_on_the_host(remote, host_tmp):
    lock_dir = lock.default_lock_dir(host_tmp)
    since = "2024-05-01T12:00:00Z"
    assert remote(lock.acquire_lock(lock_dir, host_tmp, "alice", "inc-1", since)).returncode == 0
    held = remote(lock.acquire_lock(lock_dir, host_tmp, "bob", "inc-2", since))
    assert lock.lock_held(held.returncode, held.stderr.decode())
    info = lock.parse_lock_info(remote(lock.read_lock(lock_dir, host_tmp)).stdout.decode())
    assert info == lock.LockInfo("alice", "inc-1", since)
    assert remote(lock.release_lock(lock_dir, host_tmp)).returncode == 0
    assert remote(["test", "-e", lock_dir]).returncode == 1


def test_env_hotfix_round_trip_over_ssh_stdin(remote, host_tmp):
    env = f"{host_tmp}/.env"
    assert remote(["sh", "-c", 'printf "A=1\\nB=2\\n" > "$1"', "sh", env]).returncode == 0
    assert remote(envfile.backup_env_file(env, "inc-1")).returncode == 0
    result = remote(envfile.set_env_keys(env, ["B", "C"]), envfile.set_keys_stdin({"B": Secret("s e$cret"), "C": "3"}))
    assert result.returncode == 0, result.stderr
    assert b"cret" not in result.stdout + result.stderr
    assert remote(["cat", env]).stdout == b"A=1\nB=s e$cret\nC=3\n"
    assert remote(envfile.restore_env_file(env, "inc-1")).returncode == 0
    assert remote(["cat", env]).stdout == b"A=1\nB=2\n"


def test_extract_bundle_flags_work_with_the_hosts_tar(config, remote, host_tmp):
    result = remote(artifacts.extract_bundle(config.target.artifacts_dir, "v1", host_tmp))
    assert result.returncode == 0, result.stderr
    assert remote(["test", "-f", f"{host_tmp}/docker-compose.yml"]).returncode == 0
    # Extracted files belong to the deploy user, not to the archive's owner.
    owner = remote(["stat", "-c", "%U", f"{host_tmp}/docker-compose.yml"]).stdout.decode().strip()
    assert owner == config.target.user
