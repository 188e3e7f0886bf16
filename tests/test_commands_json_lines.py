"""The one reader of docker's one-JSON-object-a-line output (docker ps, stack services, service ps)."""

from __future__ import annotations

import pytest

from console.commands.json_lines import json_lines


class Refused(ValueError):
    pass


def test_objects_a_line_blank_lines_skipped():
    text = '{"a": 1}\n\n  {"b": [2]}  \r\n'
    assert json_lines(text, "docker ps") == [{"a": 1}, {"b": [2]}]
    assert json_lines("", "docker ps") == [] and json_lines("\n \n", "docker ps") == []


def test_a_broken_line_raises_the_callers_error_naming_the_command_and_quoting_the_line():
    with pytest.raises(Refused, match=r"docker ps printed a broken JSON line \(.*\): 'Cannot connect"):
        json_lines('{"a": 1}\nCannot connect to the Docker daemon\n', "docker ps", Refused)


def test_a_line_that_is_not_an_object_is_refused():
    with pytest.raises(Refused, match="docker service ps printed a JSON line that is not an object: '\\[1, 2\\]'"):
        json_lines("[1, 2]\n", "docker service ps", Refused)


def test_the_quoted_line_is_cut_and_its_control_characters_escaped():
    with pytest.raises(ValueError) as refused:
        json_lines("\x1b]0;owned\x07" + "x" * 500, "docker ps")
    message = str(refused.value)
    assert "\x1b" not in message and "\\x1b" in message and "x" * 200 not in message
