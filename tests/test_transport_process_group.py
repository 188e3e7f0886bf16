import shlex
import subprocess

import pytest

from console.transport.process_group import PGID_MARKER, kill_group_argv, parse_marker, wrap_in_process_group


def test_wrapped_command_line():
    assert wrap_in_process_group(["docker-compose", "-p", "mr-dj", "ps"]) == (
        'exec sh -c \'r=$1; shift; if setsid -w true 2>/dev/null; then exec setsid -w sh -c "$r" sh "$@"; fi; '
        'exec 3<&0; setsid sh -c "$r" sh "$@" <&3 3<&- & wait $!\' sh '
        "'echo __incident_console_pgid__:$$ >&2; exec \"$@\"' docker-compose -p mr-dj ps"
    )


def test_wrapped_arguments_are_quoted():
    line = wrap_in_process_group(["echo", "a b; rm -rf /", "$HOME"])
    assert line.endswith(" exec \"$@\"' echo 'a b; rm -rf /' '$HOME'")


def test_wrapper_runs_the_command_in_a_new_group_and_reports_it_first():
    # Run the exact remote line through a local shell, as sshd would.
    done = subprocess.run(
        ["sh", "-c", wrap_in_process_group(["sh", "-c", "ps -o pgid= $$; exit 4"])], capture_output=True, text=True
    )
    first, *rest = done.stderr.splitlines()
    pgid = parse_marker(first)
    assert pgid is not None and rest == []
    assert int(done.stdout.strip()) == pgid
    assert done.returncode == 4


def test_marker_parsing():
    assert parse_marker(f"{PGID_MARKER}1234") == 1234
    assert parse_marker("PGID:1234") is None
    assert parse_marker(f"{PGID_MARKER}1") is None  # never signal init's group
    assert parse_marker(f"{PGID_MARKER}12x") is None


def test_kill_command():
    argv = kill_group_argv(4321, grace=2.5)
    assert argv[0:2] == ["sh", "-c"] and argv[3:] == ["sh", "4321", "25"]
    assert "kill -TERM" in argv[2] and "kill -KILL" in argv[2]
    assert " -- " not in argv[2]  # dash's kill rejects "--" before a negative PGID
    with pytest.raises(ValueError):
        kill_group_argv(1, 1.0)


def test_empty_argv_refused():
    with pytest.raises(ValueError):
        wrap_in_process_group([])
    assert shlex.split(wrap_in_process_group(["true"]))[-1] == "true"
