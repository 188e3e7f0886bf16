"""The command line's shared answers: one line on stderr and the exit code the README documents."""

from __future__ import annotations

from console.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED, bad_input, host_unreachable
from console.failures import ConnectionLost


def test_bad_input_says_what_is_wrong_and_exits_2(capsys):
    assert bad_input("--tag is required") == EXIT_BAD_INPUT == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "incident-console: --tag is required\n"


def test_an_unreachable_host_is_a_failure_with_the_transport_error(capsys):
    assert host_unreachable(ConnectionLost("connection refused")) == EXIT_FAILED == 1
    out, err = capsys.readouterr()
    assert out == "" and err == "incident-console: cannot reach the host: connection refused\n"
