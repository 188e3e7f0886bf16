"""Reading a Linux process's ``/proc/PID/stat`` line, for the few facts ``kill(pid, 0)`` cannot give."""

from __future__ import annotations


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name: ``[0]`` state, ``[1]`` ppid,
    ``[2]`` process group, ``[19]`` start time in clock ticks since boot. None when the process
    is gone or there is no ``/proc``. The command name is skipped whole: it may hold spaces and
    parentheses, so the fields start after its last ``)``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            line = stat.read().decode("ascii", "replace")
    except OSError:
        return None
    return line[line.rfind(")") + 2 :].split()
