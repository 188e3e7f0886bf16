"""SSHTransport against the sandbox's real sshd (127.0.0.1:2222, user deploy)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import asyncssh
import pytest

from console.config import load_config
from console.failures import AuthenticationFailed, CommandTimeout, ConnectionLost, ConnectTimeout, HostKeyRejected
from console.transport.ssh import SSHTransport

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="session")
def sandbox_config_path() -> Path:
    # An already-running sandbox may be named explicitly, to skip `ctl up` while iterating.
    given = os.environ.get("INCIDENT_CONSOLE_SANDBOX_CONFIG")
    if given:
        return Path(given)
    done = subprocess.run([str(ROOT / "sandbox" / "ctl"), "up"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"sandbox/ctl up failed:\n{done.stderr[-3000:]}"
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def target(sandbox_config_path):
    return load_config(sandbox_config_path).target


@pytest.fixture
def empty_ssh_config(tmp_path) -> Path:
    # Keeps the developer's own ~/.ssh/config out of these tests.
    path = tmp_path / "ssh_config"
    path.write_text("")
    return path


@pytest.fixture
def transport(target, empty_ssh_config):
    return SSHTransport(target, ssh_config_path=empty_ssh_config, kill_grace=2.0)


def unique_marker() -> tuple[str, str]:
    """A marker for a remote command line, and a pgrep pattern that matches it but not itself."""
    token = uuid.uuid4().hex[:12]
    return f"ictest{token}", f"ictes[t]{token}"


async def remote_processes(target, config: Path, pattern: str) -> list[str]:
    """Processes matching ``pattern`` on the host, seen over a fresh connection."""
    probe = SSHTransport(target, ssh_config_path=config)
    try:
        result = await probe.run(["pgrep", "-af", pattern], capture=True)
    finally:
        await probe.close()
    assert result.exit_status in (0, 1), result
    return result.stdout.splitlines()


async def wait_for_line(lines: list[str], wanted: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while wanted not in lines:
        assert time.monotonic() < deadline, f"never saw {wanted!r} in {lines!r}"
        await asyncio.sleep(0.05)


def collector():
    seen: dict[str, list[str]] = {"stdout": [], "stderr": []}
    calls = []

    def on_output(stream: str, lines: list[str]) -> None:
        calls.append(len(lines))
        seen[stream].extend(lines)

    return seen, calls, on_output


# -- commands -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_runs_command_streams_both_outputs_and_reports_exit_code(transport):
    seen, _, on_output = collector()
    try:
        result = await transport.run(
            ["sh", "-c", "echo one; echo two >&2; echo three; exit 7"], on_output=on_output, capture=True
        )
    finally:
        await transport.close()
    assert result.exit_status == 7 and not result.ok and not result.unknown
    assert seen == {"stdout": ["one", "three"], "stderr": ["two"]}
    assert result.stdout == "one\nthree\n"
    assert result.stderr == "two\n"  # the PGID marker line never shows


@pytest.mark.asyncio
async def test_arguments_reach_the_host_unchanged(transport):
    tricky = ["a b", "$HOME", "'quoted'", 'double"q', "semi;colon", "back`tick`", "*"]
    try:
        result = await transport.run(["printf", "%s\\n", *tricky], capture=True)
    finally:
        await transport.close()
    assert result.ok
    assert result.stdout.splitlines() == tricky


@pytest.mark.asyncio
async def test_stdin_is_delivered_and_closed(transport):
    data = b"".join(b"line %d\n" % i for i in range(50000))
    try:
        result = await transport.run(["sh", "-c", "cat; echo end"], stdin=data, capture=True)
        empty = await transport.run(["cat"], capture=True, timeout=10)
    finally:
        await transport.close()
    assert result.stdout.encode() == data + b"end\n"
    assert empty.ok and empty.stdout == ""  # no stdin given: EOF at once, no hang


@pytest.mark.asyncio
async def test_one_connection_serves_every_command(transport):
    try:
        await transport.connect()
        first = transport.connection
        for i in range(8):
            result = await transport.run(["echo", str(i)], capture=True)
            assert result.stdout == f"{i}\n"
            assert transport.connection is first
        results = await asyncio.gather(*(transport.run(["true"]) for _ in range(5)))
        assert all(r.ok for r in results)
        assert transport.connection is first
        assert transport.connections_opened == 1
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_description_and_fingerprint(transport, target):
    try:
        await transport.connect()
        fingerprint = transport.fingerprint()
    finally:
        await transport.close()
    assert transport.description == f"{target.user}@{target.host}:{target.port}"
    line = Path(target.known_hosts).read_text().split("\n")[0]
    trusted = asyncssh.import_public_key(" ".join(line.split()[1:3]))
    assert fingerprint == trusted.get_fingerprint("sha256")


@pytest.mark.asyncio
async def test_flood_delivers_every_line_in_order_in_batches(transport):
    seen, calls, on_output = collector()
    try:
        started = time.monotonic()
        result = await transport.run(["seq", "1", "2000000"], on_output=on_output)
        elapsed = time.monotonic() - started
    finally:
        await transport.close()
    assert result.ok
    assert len(seen["stdout"]) == 2_000_000
    assert seen["stdout"] == [str(i) for i in range(1, 2_000_001)]
    assert len(calls) < 2_000_000 / 100  # batched per chunk, not one call per line
    assert elapsed < 30


@pytest.mark.asyncio
async def test_long_line_is_truncated_and_the_next_line_survives(transport):
    seen, _, on_output = collector()
    try:
        result = await transport.run(
            ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo; echo next"], on_output=on_output
        )
    finally:
        await transport.close()
    assert result.ok
    first, second = seen["stdout"]
    assert first.startswith("a" * 65536) and "truncated" in first and len(first) < 66000
    assert second == "next"


@pytest.mark.asyncio
async def test_capture_is_bounded_and_keeps_the_end(transport):
    try:
        result = await transport.run(["seq", "1", "1000000"], capture=True)
    finally:
        await transport.close()
    assert result.ok
    assert len(result.stdout) <= 1024 * 1024
    assert result.stdout.endswith("999999\n1000000\n")


# -- killing the whole remote process group ------------------------------------------


@pytest.mark.asyncio
async def test_timeout_kills_the_remote_process_group(transport, target, empty_ssh_config):
    marker, pattern = unique_marker()
    started = time.monotonic()
    try:
        with pytest.raises(CommandTimeout) as info:
            await transport.run(["sh", "-c", f"sleep 300; echo done {marker}"], timeout=1)
        assert time.monotonic() - started < 8
        assert info.value.result.exit_status is None
        # The connection survives a timed-out command.
        assert (await transport.run(["true"])).ok
        assert transport.connections_opened == 1
    finally:
        await transport.close()
    assert await remote_processes(target, empty_ssh_config, pattern) == []


@pytest.mark.asyncio
async def test_timeout_escalates_to_kill_when_term_is_ignored(transport, target, empty_ssh_config):
    marker, pattern = unique_marker()
    try:
        with pytest.raises(CommandTimeout):
            await transport.run(["sh", "-c", f"trap '' TERM; sleep 300; echo {marker}"], timeout=1)
    finally:
        await transport.close()
    assert await remote_processes(target, empty_ssh_config, pattern) == []


@pytest.mark.asyncio
async def test_cancelling_the_task_kills_the_remote_process_group(transport, target, empty_ssh_config):
    marker, pattern = unique_marker()
    seen, _, on_output = collector()
    try:
        task = asyncio.ensure_future(
            transport.run(["sh", "-c", f"echo started; sleep 300; echo done {marker}"], on_output=on_output)
        )
        await wait_for_line(seen["stdout"], "started")
        assert len(await remote_processes(target, empty_ssh_config, pattern)) >= 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await transport.run(["true"])).ok
    finally:
        await transport.close()
    assert await remote_processes(target, empty_ssh_config, pattern) == []
    assert "done" not in " ".join(seen["stdout"])


# -- the link dies ------------------------------------------------------------------


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
        chain.append(pid)
    return chain


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def kill_groups_matching(pattern: str) -> None:
    for pid in subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split():
        try:
            os.killpg(os.getpgid(int(pid)), signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_sshd_session_of(pattern: str, user: str) -> list[int]:
    """Kill (as root, the host is this machine) the sshd session processes serving ``pattern``."""
    pids = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    assert pids, f"no process matches {pattern}"
    session = [p for p in _ancestors(int(pids[0])) if re.match(rf"sshd: {re.escape(user)}(@| \[priv\])", _cmdline(p))]
    assert session, f"no sshd session above {pids[0]}"
    for pid in session:
        os.kill(pid, signal.SIGKILL)
    return session


@pytest.mark.asyncio
async def test_dropped_link_mid_command_is_unknown_and_next_run_reconnects(transport, target):
    marker, pattern = unique_marker()
    seen, _, on_output = collector()
    try:
        await transport.connect()
        first = transport.connection
        task = asyncio.ensure_future(
            transport.run(
                ["sh", "-c", f"echo started; sleep 300; echo done {marker}"], on_output=on_output, capture=True
            )
        )
        await wait_for_line(seen["stdout"], "started")
        kill_sshd_session_of(pattern, target.user)
        with pytest.raises(ConnectionLost) as info:
            await asyncio.wait_for(task, 10)
        assert info.value.result.exit_status is None and info.value.result.unknown
        assert "UNKNOWN" in str(info.value)
        assert not transport.connected
        # The next command reconnects on its own, over a new connection.
        again = await transport.run(["echo", "back"], capture=True)
        assert again.stdout == "back\n"
        assert transport.connections_opened == 2
        assert transport.connection is not first
    finally:
        await transport.close()
        kill_groups_matching(pattern)  # the orphaned command: its fate was UNKNOWN


@pytest.mark.asyncio
async def test_reconnect_replaces_the_connection(transport):
    try:
        await transport.connect()
        first = transport.connection
        await transport.reconnect()
        assert transport.connection is not first and transport.connections_opened == 2
        assert (await transport.run(["true"])).ok
    finally:
        await transport.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio
async def test_closed_port_fails_fast_with_connection_lost(target, empty_ssh_config):
    closed = dataclasses.replace(target, port=free_port())
    transport = SSHTransport(closed, ssh_config_path=empty_ssh_config)
    started = time.monotonic()
    with pytest.raises(ConnectionLost):
        await transport.connect()
    assert time.monotonic() - started < 2


@pytest.mark.asyncio
async def test_reconnect_backs_off_exponentially_then_gives_up(target, empty_ssh_config):
    closed = dataclasses.replace(target, port=free_port())
    transport = SSHTransport(closed, ssh_config_path=empty_ssh_config)
    retries = []
    with pytest.raises(ConnectionLost):
        await transport.reconnect(
            attempts=4, base_delay=0.05, on_retry=lambda n, delay, exc: retries.append((n, delay))
        )
    assert retries == [(1, 0.05), (2, 0.1), (3, 0.2)]


@pytest.mark.asyncio
async def test_silent_server_hits_connect_timeout(target, empty_ssh_config):
    # Accepts TCP (the kernel's backlog) but never speaks SSH.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        silent = dataclasses.replace(target, port=listener.getsockname()[1], connect_timeout=1.0)
        transport = SSHTransport(silent, ssh_config_path=empty_ssh_config)
        started = time.monotonic()
        with pytest.raises(ConnectTimeout):
            await transport.connect()
        assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_wrong_key_is_authentication_failed(target, empty_ssh_config, tmp_path):
    key_path = tmp_path / "wrong_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key_path))
    wrong = dataclasses.replace(target, identity_file=str(key_path))
    transport = SSHTransport(wrong, ssh_config_path=empty_ssh_config)
    retries = []
    with pytest.raises(AuthenticationFailed):
        await transport.connect()
    with pytest.raises(AuthenticationFailed):  # and never retried: waiting cannot fix it
        await transport.reconnect(base_delay=0.01, on_retry=lambda *a: retries.append(a))
    assert retries == []


# -- host keys ----------------------------------------------------------------------


async def server_fingerprint(target, config: Path) -> str:
    transport = SSHTransport(target, ssh_config_path=config)
    try:
        await transport.connect()
        return transport.fingerprint()
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_unknown_host_key_is_refused_with_fingerprint_and_a_working_trust_line(
    target, empty_ssh_config, tmp_path
):
    expected = await server_fingerprint(target, empty_ssh_config)
    known = tmp_path / "known_hosts"
    known.write_text("")
    untrusting = dataclasses.replace(target, known_hosts=str(known))
    transport = SSHTransport(untrusting, ssh_config_path=empty_ssh_config)
    with pytest.raises(HostKeyRejected) as info:
        await transport.connect()
    message = str(info.value)
    assert expected in message and "unknown" in message
    assert not transport.connected
    # The advice is exact: running the printed line makes the next connect succeed.
    line = re.search(r"trust it with: (ssh-keyscan .*)$", message, re.M).group(1)
    assert f"-p {target.port} " in line and line.endswith(f">> {known}")
    subprocess.run(line, shell=True, check=True, capture_output=True, timeout=20)
    try:
        assert (await transport.run(["true"])).ok
    finally:
        await transport.close()


@pytest.mark.asyncio
async def test_missing_known_hosts_file_trusts_nothing(target, empty_ssh_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # so ~/.ssh/known_hosts does not exist
    transport = SSHTransport(dataclasses.replace(target, known_hosts=None), ssh_config_path=empty_ssh_config)
    assert transport.known_hosts_file == tmp_path / ".ssh" / "known_hosts"
    with pytest.raises(HostKeyRejected):
        await transport.connect()


@pytest.mark.asyncio
async def test_changed_host_key_is_refused(target, empty_ssh_config, tmp_path):
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[{target.host}]:{target.port} {impostor[0]} {impostor[1]}\n")
    transport = SSHTransport(dataclasses.replace(target, known_hosts=str(known)), ssh_config_path=empty_ssh_config)
    with pytest.raises(HostKeyRejected) as info:
        await transport.connect()
    message = str(info.value)
    assert "CHANGED" in message
    assert await server_fingerprint(target, empty_ssh_config) in message
    assert f"ssh-keygen -R '[{target.host}]:{target.port}'" in message


@pytest.mark.asyncio
async def test_ssh_config_cannot_weaken_the_host_key_check(target, tmp_path):
    weakening = tmp_path / "ssh_config"
    weakening.write_text(
        "Host *\n  UserKnownHostsFile none\n  StrictHostKeyChecking no\n  GlobalKnownHostsFile none\n  CheckHostIP no\n"
    )
    known = tmp_path / "known_hosts"
    known.write_text("")
    transport = SSHTransport(dataclasses.replace(target, known_hosts=str(known)), ssh_config_path=weakening)
    with pytest.raises(HostKeyRejected):
        await transport.connect()


# -- ~/.ssh/config aliases ------------------------------------------------------------


@pytest.mark.asyncio
async def test_ssh_config_alias_supplies_hostname_user_port_and_key(target, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host fake-vps\n  HostName {target.host}\n  Port {target.port}\n"
        f"  User {target.user}\n  IdentityFile {target.identity_file}\n"
    )
    aliased = dataclasses.replace(target, host="fake-vps", port=22, user="", identity_file=None)
    transport = SSHTransport(aliased, ssh_config_path=config)
    assert transport.description == f"{target.user}@{target.host}:{target.port}"
    try:
        result = await transport.run(["id", "-un"], capture=True)
    finally:
        await transport.close()
    assert result.stdout.strip() == target.user


@pytest.mark.asyncio
async def test_explicit_target_values_win_over_ssh_config(target, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host fake-vps\n  HostName {target.host}\n  Port {free_port()}\n"
        f"  User nobody-here\n  IdentityFile {tmp_path / 'missing_key'}\n"
    )
    explicit = dataclasses.replace(target, host="fake-vps")
    transport = SSHTransport(explicit, ssh_config_path=config)
    try:
        result = await transport.run(["id", "-un"], capture=True)
    finally:
        await transport.close()
    assert result.stdout.strip() == target.user


# -- file transfer ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sftp_put_resumes_a_partial_upload_and_get_brings_it_back(transport, tmp_path):
    payload = os.urandom(3 * 1024 * 1024 + 123)
    local = tmp_path / "artifact.tar.gz"
    local.write_bytes(payload)
    remote = f"/tmp/ictest-{uuid.uuid4().hex[:8]}.bin"
    progress = []
    try:
        await transport.run(["sh", "-c", f"head -c 1000000 > {remote}"], stdin=payload[:1_000_000])
        size = await transport.sftp_put(local, remote, progress=lambda d, t: progress.append((d, t)))
        assert size == len(payload)
        assert progress[0] == (1_000_000, len(payload))  # continued from the partial upload
        assert progress[-1] == (len(payload), len(payload))
        back = tmp_path / "back.bin"
        back.write_bytes(payload[:5000])
        await transport.sftp_get(remote, back)
        assert back.read_bytes() == payload
        digest = await transport.run(["sha256sum", remote], capture=True)
        assert digest.stdout.split()[0] == hashlib.sha256(payload).hexdigest()
    finally:
        await transport.run(["rm", "-f", remote])
        await transport.close()


@pytest.mark.asyncio
async def test_failing_output_callback_kills_the_remote_command(transport, target, empty_ssh_config):
    marker, pattern = unique_marker()

    def explode(stream, lines):
        raise RuntimeError("widget gone")

    try:
        with pytest.raises(RuntimeError, match="widget gone"):
            await transport.run(["sh", "-c", f"echo hi; sleep 300; echo {marker}"], on_output=explode, timeout=20)
    finally:
        await transport.close()
    assert await remote_processes(target, empty_ssh_config, pattern) == []


@pytest.fixture
def ssh_agent(target, tmp_path):
    """A private ssh-agent holding the sandbox key (its socket lives in tmp_path)."""
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists():
            assert time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", target.identity_file], env=env, check=True, capture_output=True)
        yield sock
    finally:
        agent.terminate()
        agent.wait(5)


@pytest.mark.asyncio
async def test_agent_keys_are_used_only_when_agent_is_on(target, empty_ssh_config, ssh_agent, tmp_path, monkeypatch):
    monkeypatch.setenv("SSH_AUTH_SOCK", str(ssh_agent))
    monkeypatch.setenv("HOME", str(tmp_path))  # no default ~/.ssh/id_* keys to fall back on
    with_agent = SSHTransport(
        dataclasses.replace(target, identity_file=None, agent=True), ssh_config_path=empty_ssh_config
    )
    try:
        assert (await with_agent.run(["true"])).ok
    finally:
        await with_agent.close()
    without = SSHTransport(
        dataclasses.replace(target, identity_file=None, agent=False), ssh_config_path=empty_ssh_config
    )
    with pytest.raises(AuthenticationFailed):
        await without.connect()


@pytest.mark.asyncio
async def test_missing_identity_file_is_authentication_failed(target, empty_ssh_config, tmp_path):
    missing = dataclasses.replace(target, identity_file=str(tmp_path / "nope"))
    with pytest.raises(AuthenticationFailed, match="cannot be read"):
        await SSHTransport(missing, ssh_config_path=empty_ssh_config).connect()
