"""The sandbox's fleet (web1..web3, sandbox/fleet.sh) and single-node swarm (sandbox/swarm.sh), issue 14.

Each fleet host is its own "VPS": its own sshd on its own loopback address, its own dockerd, its own
project dir, the demo app bound to that address. The swarm runs the demo as a Swarm stack. Both have
v1 and v2 captured and v2 deployed; `ctl reset` puts v2 back where something differs.
"""

from __future__ import annotations

import os
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from tests._sandbox_access import check_config, get_json, ssh_run

pytestmark = [pytest.mark.sandbox, pytest.mark.fleet]

ROOT = Path(__file__).resolve().parent.parent
CTL = ROOT / "sandbox" / "ctl"
STATE = ROOT / "sandbox" / ".state"
FLEET = {"web1": "127.0.0.11", "web2": "127.0.0.12", "web3": "127.0.0.13"}
SWARM = "127.0.0.21"


def _ctl(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CTL), *args], capture_output=True, text=True, timeout=timeout)


def _toml(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


@pytest.fixture(scope="module")
def configs() -> dict:
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    proc = _ctl("up")
    assert proc.returncode == 0, f"ctl up failed:\n{proc.stdout}\n{proc.stderr}"
    return {"fleet": _toml(STATE / "fleet.toml"), "swarm": _toml(STATE / "swarm.toml")}


def _ssh(target: dict, host: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return ssh_run(target, command, host=host, connect_timeout=10, timeout=timeout)


def _versions(addr: str) -> tuple[str, str]:
    return (
        get_json(f"http://{addr}:18081/api/health")[1]["version"],
        get_json(f"http://{addr}:18082/api/health")[1]["version"],
    )


def _wait_versions(addr: str, want: tuple[str, str], seconds: float = 60) -> tuple[str, str]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            got = _versions(addr)
        except (OSError, ValueError):
            got = ("?", "?")
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_status_lists_the_fleet_hosts_and_the_swarm_up(configs):
    proc = _ctl("status", timeout=120)
    assert proc.returncode == 0, proc.stdout
    lines = [line.split() for line in proc.stdout.splitlines()]
    for component in ("fleet-web1", "fleet-web2", "fleet-web3", "swarm"):
        assert [component, "up"] in lines, proc.stdout
    if "main" in os.environ.get("SANDBOX_SCOPE", "main"):  # scripts/test runs this part on its own
        assert ["stack", "up"] in lines and ["realworld", "up"] in lines  # the single host's lines stay


def test_fleet_config_follows_the_contract(configs):
    fleet = configs["fleet"]
    assert "host" not in fleet["target"]
    assert fleet["target"]["project_name"] == "mr-dj"
    hosts = {h["name"]: h for h in fleet["hosts"]}
    assert list(hosts) == ["web1", "web2", "web3"]
    for name, addr in FLEET.items():
        host = hosts[name]
        assert host["host"] == addr
        assert host["roles"] == (["web", "migrations"] if name == "web1" else ["web"])
        assert host["project_dir"] == f"/opt/fleet/{name}/mr-dj"
        assert host["artifacts_dir"] == f"/opt/fleet/{name}/artifacts"
        assert [h["url"] for h in host["health"]] == [
            f"http://{addr}:18081/api/health",
            f"http://{addr}:18082/api/health",
        ]
    assert fleet["fleet"] == {"canary": "web2", "batch_size": 2, "canary_pause_seconds": 5, "gate_interval_seconds": 1}
    assert fleet["paths"] == {
        "state_dir": str(STATE / "fleet-console-state"),
        "release_log": str(STATE / "fleet-releases.toml"),
    }
    pinned = Path(fleet["target"]["known_hosts"]).read_text().splitlines()
    assert [line.split()[0] for line in pinned] == [f"[{a}]:2222" for a in FLEET.values()]
    assert len({line.split()[2] for line in pinned}) == 3  # one host key each


def test_fleet_artifacts_and_release_log(configs):
    log = _toml(STATE / "fleet-releases.toml")
    assert log["deployed"] == "v2"
    assert [r["tag"] for r in log["releases"]] == ["v1", "v2"]
    for name in FLEET:
        artifacts = Path(f"/opt/fleet/{name}/artifacts")
        proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS.txt"], cwd=artifacts, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        sums = dict(reversed(line.split()) for line in (artifacts / "SHA256SUMS.txt").read_text().splitlines())
        for release in log["releases"]:
            for file, digest in release["files"].items():
                assert sums[file] == digest  # every host has the same bundles: one release log for the fleet


@pytest.mark.parametrize("name", list(FLEET))
def test_each_fleet_host_is_its_own_vps_running_v2_on_its_own_address(configs, name):
    addr = FLEET[name]
    target = configs["fleet"]["target"]
    proc = _ssh(
        target,
        addr,
        f"echo DOCKER_HOST=$DOCKER_HOST; cd /opt/fleet/{name}/mr-dj && grep image: docker-compose.yml "
        "&& docker-compose -p mr-dj exec -T mr-dj-backend sh -c 'echo BIND_ADDR=$BIND_ADDR; echo ${DATABASE_URL##*/}' "
        "&& docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:status",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert f"DOCKER_HOST=unix:///run/incident-sandbox-fleet-{name}.sock" in out
    assert f"BIND_ADDR={addr}" in out
    assert "mrdj_fleet" in out
    assert out[-1] == "002_add_booking_notes"
    assert "127.0.0.1:5000/mr-dj-backend:v2" in proc.stdout
    code, body = get_json(f"http://{addr}:18082/api/health")
    assert (code, body["status"], body["version"]) == (200, "ok", "v2")
    code, body = get_json(f"http://{addr}:18081/api/health")
    assert (code, body["version"]) == (500, "v2")
    if "main" in os.environ.get("SANDBOX_SCOPE", "main"):  # scripts/test changes that one meanwhile
        assert _versions("127.0.0.1") == ("v2", "v2")  # the single host's stack answers beside it


def test_swarm_config_and_stack(configs):
    swarm = configs["swarm"]
    target = swarm["target"]
    assert (target["engine"], target["host"], target["project_name"]) == ("swarm", SWARM, "mrdj")
    assert (target["project_dir"], target["artifacts_dir"]) == ("/opt/swarm/mr-dj", "/opt/swarm/artifacts")
    assert [h["url"] for h in swarm["health"]] == [
        f"http://{SWARM}:18081/api/health",
        f"http://{SWARM}:18082/api/health",
    ]
    assert swarm["paths"] == {
        "state_dir": str(STATE / "swarm-console-state"),
        "release_log": str(STATE / "swarm-releases.toml"),
    }
    log = _toml(STATE / "swarm-releases.toml")
    assert log["deployed"] == "v2"
    v2 = next(r for r in log["releases"] if r["tag"] == "v2")
    proc = _ssh(
        target,
        SWARM,
        "echo DOCKER_HOST=$DOCKER_HOST; docker stack services mrdj --format '{{.Name}} {{.Replicas}}' | sort; "
        "docker service inspect -f '{{.Spec.Name}} {{.Spec.TaskTemplate.ContainerSpec.Image}}' "
        "mrdj_backend mrdj_frontend",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "DOCKER_HOST=unix:///run/incident-sandbox-swarm.sock"
    assert out[1:3] == ["mrdj_backend 1/1", "mrdj_frontend 1/1"]
    images = dict(line.split() for line in out[3:5])
    assert images["mrdj_backend"].endswith("@" + v2["images"]["mr-dj-backend"]["digest"])
    assert images["mrdj_frontend"].endswith("@" + v2["images"]["mr-dj-frontend"]["digest"])
    assert _versions(SWARM) == ("v2", "v2")
    proc = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS.txt"], cwd="/opt/swarm/artifacts", capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_reset_puts_v2_back_on_a_fleet_host_deployed_v1_by_hand(configs):
    target = configs["fleet"]["target"]
    proc = _ssh(
        target,
        FLEET["web2"],
        "cd /opt/fleet/web2/mr-dj && tar -xzf /opt/fleet/web2/artifacts/v1-compose.tar.gz "
        "&& docker-compose -p mr-dj up -d",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _wait_versions(FLEET["web2"], ("v1", "v1")) == ("v1", "v1")
    assert _versions(FLEET["web1"]) == ("v2", "v2") and _versions(FLEET["web3"]) == ("v2", "v2")
    started = time.monotonic()
    proc = _ctl("reset", timeout=300)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fleet web2: redeploying v2" in proc.stderr
    assert "fleet web1: redeploying" not in proc.stderr and "swarm: redeploying" not in proc.stderr
    assert elapsed < 30, f"reset took {elapsed:.1f}s"
    for addr in FLEET.values():
        assert _versions(addr) == ("v2", "v2")
    assert "mr-dj-backend:v2" in Path("/opt/fleet/web2/mr-dj/docker-compose.yml").read_text()


def test_reset_puts_v2_back_on_the_swarm(configs):
    target = configs["swarm"]["target"]
    v1 = next(r for r in _toml(STATE / "swarm-releases.toml")["releases"] if r["tag"] == "v1")
    image = f"127.0.0.1:5000/mr-dj-frontend:v1@{v1['images']['mr-dj-frontend']['digest']}"
    proc = _ssh(target, SWARM, f"docker service update --detach --quiet --image {image} mrdj_frontend", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _wait_versions(SWARM, ("v2", "v1"))[1] == "v1"
    proc = _ctl("reset", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "swarm: redeploying v2" in proc.stderr
    assert _versions(SWARM) == ("v2", "v2")
    assert _ctl("status", timeout=120).returncode == 0


# What the console does not parse before issue 14's config lands (the lead's part): these problems, and only
# these, are tolerated on the full file; the single-host part of each config must pass the validator today.
_NOT_YET_PARSED = {
    "hosts: unknown key",
    "fleet: unknown key",
    "target.host: missing required key",
    "target.project_dir: missing required key",
    "target.engine: unknown key",
}


def _check_config(path: Path, which: str) -> subprocess.CompletedProcess[str]:
    proc = check_config(path, STATE / f"{which}-env.sh")
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip("console package not importable")
    return proc


def _problems(proc: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("  ")}


@pytest.mark.parametrize("which", ["fleet", "swarm"])
def test_configs_pass_the_console_validator(configs, which, tmp_path):
    path = STATE / f"{which}.toml"
    proc = _check_config(path, which)
    assert proc.returncode == 0 or _problems(proc) <= _NOT_YET_PARSED, proc.stdout + proc.stderr
    single = dict(configs[which])
    if which == "fleet":  # web1 as a single host: [target] defaults + its own keys
        web1 = single.pop("hosts")[0]
        single.pop("fleet")
        single["target"] = {
            **single["target"],
            "host": web1["host"],
            "project_dir": web1["project_dir"],
            "artifacts_dir": web1["artifacts_dir"],
        }
        single["health"] = web1["health"]
    else:
        single["target"] = {k: v for k, v in single["target"].items() if k != "engine"}
    (tmp_path / "single.toml").write_text(tomli_w.dumps(single))
    proc = _check_config(tmp_path / "single.toml", which)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_up_restarts_what_is_down(configs):
    # web3's engine and sshd stop (as after a crash): status says so, `up` brings both back, v2 answers again
    pids = [int((STATE / "fleet" / "web3" / name).read_text().split()[0]) for name in ("sshd.pid", "dockerd.pid")]
    for pid in pids:
        os.kill(pid, 15)
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.25)
    proc = _ctl("status", timeout=120)
    assert proc.returncode == 1
    assert ["fleet-web3", "down"] in [line.split() for line in proc.stdout.splitlines()], proc.stdout
    proc = _ctl("up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fleet web3: deploying" not in proc.stderr  # restarted, not redeployed
    assert _ctl("status", timeout=120).returncode == 0
    assert _wait_versions(FLEET["web3"], ("v2", "v2"), 30) == ("v2", "v2")


@pytest.mark.parametrize("which", ["fleet", "swarm"])
def test_capture_source_is_a_buildable_working_tree(configs, which):
    capture = configs[which]["capture"]
    source = Path(capture["source_dir"])
    text = (source / capture["compose_file"]).read_text()
    assert "build: ./backend" in text and "build: ./frontend" in text
    assert "@sha256:" not in text
    assert ("${HOST_ADDR" in text) == (which == "fleet")  # the fleet's hosts differ by their own .env only
    proc = subprocess.run(["docker-compose", "config", "-q"], cwd=source, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (source / "backend" / ".env").read_text().count(f"/mrdj_{which}\n") == 1


def test_up_brings_an_unconverged_swarm_stack_back(configs):
    proc = _ssh(configs["swarm"]["target"], SWARM, "docker service scale --detach mrdj_backend=0", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deadline = time.monotonic() + 30
    while (status := _ctl("status", timeout=120)).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ["swarm", "down"] in [line.split() for line in status.stdout.splitlines()], status.stdout
    started = time.monotonic()
    proc = _ctl("up")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "deploying its stack file again" in proc.stderr
    assert time.monotonic() - started < 90
    assert _ctl("status", timeout=120).returncode == 0
    assert _wait_versions(SWARM, ("v2", "v2"), 30) == ("v2", "v2")


def test_todays_console_rolls_one_fleet_host_back_as_a_single_host(configs, tmp_path):
    # web2 alone, as today's single-host config: a fleet host is a real target (ssh, its own engine, .env)
    single = dict(configs["fleet"])
    web2 = single.pop("hosts")[1]
    single.pop("fleet")
    single["target"] = {
        **single["target"],
        "host": web2["host"],
        "project_dir": web2["project_dir"],
        "artifacts_dir": web2["artifacts_dir"],
    }
    single["health"] = web2["health"]
    release_log = tmp_path / "releases.toml"
    release_log.write_text((STATE / "fleet-releases.toml").read_text())
    single["paths"] = {"state_dir": str(tmp_path / "state"), "release_log": str(release_log)}
    (tmp_path / "web2.toml").write_text(tomli_w.dumps(single))
    env = {**os.environ}
    for line in (STATE / "fleet-env.sh").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'")
    try:
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "console", "-c", str(tmp_path / "web2.toml")]
            + ["rollback", "--to", "v1", "--yes"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert get_json(f"http://{FLEET['web2']}:18081/api/health") == (
            200,
            {"status": "ok", "service": "backend", "version": "v1"},
        )
        assert _versions(FLEET["web1"]) == ("v2", "v2") and _versions(FLEET["web3"]) == ("v2", "v2")
    finally:
        reset = _ctl("reset", timeout=300)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert _versions(FLEET["web2"]) == ("v2", "v2")
    proc = _ssh(
        configs["fleet"]["target"],
        FLEET["web1"],
        "cd /opt/fleet/web1/mr-dj && docker-compose -p mr-dj exec -T mr-dj-backend npm run migrate:status",
    )
    assert proc.stdout.splitlines()[-1] == "002_add_booking_notes"  # mrdj_fleet is back at v2's head
