import shlex
import subprocess

import pytest

from console.commands import lock
from console.validate import UnsafeValue

LOCK = "/opt/mr-dj/.incident-console.lock"
SINCE = "2024-05-01T12:00:00Z"


def test_default_lock_dir():
    assert lock.default_lock_dir("/opt/mr-dj") == LOCK


def test_acquire_passes_values_as_positional_parameters():
    argv = lock.acquire_lock(LOCK, "/opt/mr-dj", "alice@laptop", "inc-20240501-1", SINCE)
    assert argv[:2] == ["sh", "-c"]
    assert argv[3:] == ["sh", LOCK, "alice@laptop", "inc-20240501-1", SINCE]
    script = argv[2]
    assert "alice" not in script and LOCK not in script and SINCE not in script
    assert 'mkdir -- "$1"' in script and "mkdir -p" not in script


def test_read_and_release():
    assert shlex.join(lock.read_lock(LOCK, "/opt/mr-dj")) == f"cat -- {LOCK}/info"
    assert shlex.join(lock.release_lock(LOCK, "/opt/mr-dj")) == f"rm -rf -- {LOCK}"


@pytest.mark.parametrize(
    "bad",
    [
        "/opt/mr-dj",
        "/opt/mr-dj/",
        "/opt",
        "/",
        "/opt/other/.incident-console.lock",
        "/opt/mr-dj/../.incident-console.lock",
        "/opt/mr-dj/.incident-console.lock/..",
        "/opt/mr-dj/x.incident-console.lock",
        "opt/mr-dj/.incident-console.lock",
        "/opt/mr-dj/.incident-console.lock;id",
        "/opt/mr-dj/.incident-console.lock\n",
        "/opt/mr-dj-x/.incident-console.lock",
    ],
)
def test_release_refuses_anything_but_the_lock_under_the_project(bad):
    with pytest.raises(UnsafeValue):
        lock.release_lock(bad, "/opt/mr-dj")
    with pytest.raises(UnsafeValue):
        lock.acquire_lock(bad, "/opt/mr-dj", "alice", "inc-1", SINCE)


@pytest.mark.parametrize(
    "field, bad",
    [
        ("holder", "alice\nincident=forged"),
        ("holder", ""),
        ("holder", "$(id)"),
        ("holder", "al\u0131ce"),
        ("incident_id", "inc-1;id"),
        ("incident_id", "inc-1\n"),
        ("incident_id", "../x"),
        ("incident_id", ""),
        ("incident_id", "inc-\u0661"),
        ("since", "yesterday"),
        ("since", SINCE + "\n"),
        ("since", ""),
    ],
)
def test_acquire_validates_every_value(field, bad):
    values = {"holder": "alice", "incident_id": "inc-1", "since": SINCE, field: bad}
    with pytest.raises(UnsafeValue):
        lock.acquire_lock(LOCK, "/opt/mr-dj", values["holder"], values["incident_id"], values["since"])


def test_lock_held_from_stderr():
    assert lock.lock_held_from_stderr(
        "mkdir: cannot create directory '/opt/mr-dj/.incident-console.lock': File exists\n"
    )
    assert lock.lock_held_from_stderr("mkdir: can't create directory '/x/.incident-console.lock': File exists")
    assert not lock.lock_held_from_stderr(
        "mkdir: cannot create directory '/opt/mr-dj/.incident-console.lock': Permission denied"
    )
    assert not lock.lock_held_from_stderr(
        "mkdir: cannot create directory '/nope/.incident-console.lock': No such file or directory"
    )
    assert not lock.lock_held_from_stderr("")


def test_parse_lock_info():
    info = lock.parse_lock_info(f"holder=alice@laptop\nincident=inc-1\nsince={SINCE}\n")
    assert info == lock.LockInfo("alice@laptop", "inc-1", SINCE)
    assert "alice@laptop" in info.describe() and "inc-1" in info.describe()
    assert lock.parse_lock_info("") == lock.LockInfo(None, None, None)
    assert lock.parse_lock_info("garbage\nholder=bob\nholder=mallory\n").holder == "bob"


def _run(argv):
    # The transport joins argv with shlex.join and hands it to the remote shell: do the same.
    return subprocess.run(["sh", "-c", shlex.join(argv)], capture_output=True, text=True)


def test_lock_round_trip_on_a_real_shell(tmp_path):
    project = str(tmp_path)
    lock_dir = lock.default_lock_dir(project)
    first = _run(lock.acquire_lock(lock_dir, project, "alice@laptop", "inc-1", SINCE))
    assert first.returncode == 0, first.stderr
    second = _run(lock.acquire_lock(lock_dir, project, "bob", "inc-2", SINCE))
    assert second.returncode == lock.LOCK_HELD_EXIT
    assert lock.lock_held(second.returncode, second.stderr)
    assert lock.lock_held_from_stderr(second.stderr)
    info = lock.parse_lock_info(_run(lock.read_lock(lock_dir, project)).stdout)
    assert info == lock.LockInfo("alice@laptop", "inc-1", SINCE)
    assert _run(lock.release_lock(lock_dir, project)).returncode == 0
    assert not (tmp_path / ".incident-console.lock").exists()
    assert _run(lock.acquire_lock(lock_dir, project, "bob", "inc-2", SINCE)).returncode == 0


def test_missing_project_dir_is_not_reported_as_held(tmp_path):
    project = str(tmp_path / "missing")
    result = _run(lock.acquire_lock(lock.default_lock_dir(project), project, "bob", "inc-2", SINCE))
    assert result.returncode not in (0, lock.LOCK_HELD_EXIT)
    assert not lock.lock_held(result.returncode, result.stderr)


def test_release_own_lock_leaves_a_lock_that_is_no_longer_ours(tmp_path):
    project = str(tmp_path)
    lock_dir = lock.default_lock_dir(project)
    assert _run(lock.acquire_lock(lock_dir, project, "alice", "inc-1", SINCE)).returncode == 0
    # force-unlocked by bob, who then took it for his own incident
    assert _run(lock.release_lock(lock_dir, project)).returncode == 0
    assert _run(lock.acquire_lock(lock_dir, project, "bob", "inc-2", SINCE)).returncode == 0
    assert _run(lock.release_own_lock(lock_dir, project, "inc-1")).returncode == lock.LOCK_NOT_OURS_EXIT
    assert (tmp_path / ".incident-console.lock").is_dir()
    assert _run(lock.release_own_lock(lock_dir, project, "inc-2")).returncode == 0
    assert not (tmp_path / ".incident-console.lock").exists()
    assert _run(lock.release_own_lock(lock_dir, project, "inc-2")).returncode == 0  # already gone: fine


def test_lock_state_tells_not_locked_from_locked_without_info(tmp_path):
    project = str(tmp_path)
    lock_dir = lock.default_lock_dir(project)
    assert _run(lock.lock_state(lock_dir, project)).returncode == lock.NOT_LOCKED_EXIT
    (tmp_path / ".incident-console.lock").mkdir()
    state = _run(lock.lock_state(lock_dir, project))
    assert (state.returncode, state.stdout) == (0, "")
    with pytest.raises(UnsafeValue):
        lock.release_own_lock(lock_dir, project, "inc-1;rm -rf /")
