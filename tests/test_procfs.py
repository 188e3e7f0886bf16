"""/proc/PID/stat fields, read past a command name that holds spaces and parentheses."""

from __future__ import annotations

import os
import shutil
import subprocess

from console.procfs import stat_fields


def test_this_process_is_running_in_its_own_group():
    fields = stat_fields(os.getpid())
    assert fields is not None
    assert fields[0] in {"R", "S"}
    assert int(fields[1]) == os.getppid()
    assert int(fields[2]) == os.getpgrp()
    assert int(fields[19]) > 0


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields(tmp_path):
    odd = tmp_path / "a (b) c"
    shutil.copy("/bin/sleep", odd)
    child = subprocess.Popen([str(odd), "30"], start_new_session=True)
    try:
        fields = stat_fields(child.pid)
        assert fields is not None
        assert int(fields[1]) == os.getpid() and int(fields[2]) == child.pid
    finally:
        child.kill()
        child.wait()


def test_a_process_that_is_gone_has_no_fields():
    child = subprocess.Popen(["true"])
    child.wait()
    assert stat_fields(child.pid) is None
