import os
import shlex
import subprocess

import pytest

from console.commands import envfile
from console.secrets import Secret, stdin_bytes
from console.validate import UnsafeValue

ENV = "/opt/mr-dj/backend/.env"


def j(argv):
    return shlex.join(argv)


def test_backup_beside_the_file_keeps_the_first_backup():
    argv = envfile.backup_env_file(ENV, "inc-1")
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["sh", ENV, f"{ENV}.incident-inc-1.bak"]
    assert 'cp -p -- "$1" "$2"' in argv[2]


def test_restore_from_the_backup():
    assert j(envfile.restore_env_file(ENV, "inc-1")) == f"cp -p -- {ENV}.incident-inc-1.bak {ENV}"


def test_list_keys_prints_names_only():
    argv = envfile.list_env_keys(ENV)
    assert argv[:2] == ["sed", "-n"] and argv[-2:] == ["--", ENV]


def test_set_keys_never_puts_a_value_in_argv():
    secret = Secret("hunter2-very-secret")
    argv = envfile.set_env_keys(ENV, ["DATABASE_PASSWORD", "FEATURE_X"])
    stdin = envfile.set_keys_stdin({"DATABASE_PASSWORD": secret, "FEATURE_X": "off"})
    assert argv[-3:] == [ENV, "DATABASE_PASSWORD", "FEATURE_X"]
    assert not any("hunter2" in part or part == "off" for part in argv)
    assert stdin.reveal() == b"DATABASE_PASSWORD=hunter2-very-secret\nFEATURE_X=off\n"
    assert "hunter2" not in repr(stdin) and "hunter2" not in str(stdin)


@pytest.mark.parametrize("bad", ["1KEY", "KEY-X", "KEY X", "KEY=1", "", "KEY\n", "K\u00c9Y", "K;id", "KEY\u0661"])
def test_keys_are_validated(bad):
    with pytest.raises(UnsafeValue, match="environment key"):
        envfile.set_env_keys(ENV, [bad])
    with pytest.raises(UnsafeValue, match="environment key"):
        envfile.set_keys_stdin({bad: "v"})


def test_values_with_line_breaks_are_refused_without_echoing_them():
    for bad in ("a\nINJECTED=1", "a\rb", "a\x00b"):
        with pytest.raises(UnsafeValue) as err:
            envfile.set_keys_stdin({"KEY": Secret(bad)})
        assert "INJECTED" not in str(err.value) and "KEY" in str(err.value)


def test_set_keys_needs_distinct_keys():
    with pytest.raises(UnsafeValue):
        envfile.set_env_keys(ENV, [])
    with pytest.raises(UnsafeValue, match="twice"):
        envfile.set_env_keys(ENV, ["A", "A"])


@pytest.mark.parametrize("bad", ["backend/.env", "/opt/mr-dj/../etc/passwd", "/opt/mr-dj/.env;id", "/opt/mr dj/.env"])
def test_paths_are_validated(bad):
    with pytest.raises(UnsafeValue):
        envfile.backup_env_file(bad, "inc-1")
    with pytest.raises(UnsafeValue):
        envfile.set_env_keys(bad, ["A"])
    with pytest.raises(UnsafeValue):
        envfile.list_env_keys(bad)


def test_incident_id_is_validated():
    with pytest.raises(UnsafeValue, match="incident id"):
        envfile.backup_env_file(ENV, "inc/../../x")


# -- On a real shell, as the transport runs them (shlex.join handed to sh) ---------------------


def _run(argv, stdin=b""):
    return subprocess.run(["sh", "-c", shlex.join(argv)], input=stdin_bytes(stdin), capture_output=True)


ORIGINAL = "# backend settings\nA=1\nexport B = old\\\\x\nC=3\nA=dup\nline without equals\n"


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / ".env"
    path.write_text(ORIGINAL)
    path.chmod(0o640)
    return path


def test_hotfix_round_trip(env_file):
    f = str(env_file)
    assert _run(envfile.backup_env_file(f, "inc-1")).returncode == 0
    result = _run(
        envfile.set_env_keys(f, ["A", "B", "NEW"]),
        envfile.set_keys_stdin({"A": Secret("s3cr3t$`'\"\\n"), "B": "b v", "NEW": "x=y"}),
    )
    assert result.returncode == 0, result.stderr
    assert b"s3cr3t" not in result.stdout + result.stderr
    assert env_file.read_text() == (
        "# backend settings\nA=s3cr3t$`'\"\\n\nB=b v\nC=3\nA=s3cr3t$`'\"\\n\nline without equals\nNEW=x=y\n"
    )
    assert oct(env_file.stat().st_mode & 0o777) == "0o640"
    keys = _run(envfile.list_env_keys(f))
    assert keys.stdout.decode().split() == ["A", "B", "C", "A", "NEW"]
    # A second backup in the same incident keeps the pre-incident copy.
    assert _run(envfile.backup_env_file(f, "inc-1")).returncode == 0
    assert _run(envfile.restore_env_file(f, "inc-1")).returncode == 0
    assert env_file.read_text() == ORIGINAL
    assert sorted(os.listdir(env_file.parent)) == [".env", ".env.incident-inc-1.bak"]


@pytest.mark.parametrize("stdin", [b"A=1\n", b"A=1\nQ=2\n", b"=1\nA=1\nB=2\n", b""])
def test_incomplete_or_unexpected_stdin_changes_nothing(env_file, stdin):
    result = _run(envfile.set_env_keys(str(env_file), ["A", "B"]), stdin)
    assert result.returncode != 0
    assert env_file.read_text() == ORIGINAL
    assert os.listdir(env_file.parent) == [".env"]


def test_list_keys_never_prints_values(env_file):
    env_file.write_text("TOKEN=abc123secret\n  export  OTHER=zzz\nbroken line secretvalue\n#X=commented\n")
    out = _run(envfile.list_env_keys(str(env_file))).stdout.decode()
    assert out.split() == ["TOKEN", "OTHER"]
    assert "secret" not in out and "zzz" not in out
