"""Free space on the host, asked before a `docker load` (a full disk mid-load leaves half an image).

Pure builders (argv lists) and parsers; the check itself is console/engine/disk_space.py.
"""

from __future__ import annotations

from console.commands.base import argv, docker
from console.validate import UnsafeValue, require_remote_path


def file_size(path: str) -> list[str]:
    """Bytes of one file (GNU and BusyBox ``stat`` both take ``-c %s``)."""
    return argv("stat", "-c", "%s", "--", require_remote_path(path, "file"))


def docker_root_dir() -> list[str]:
    """Where dockerd keeps image layers: what a `docker load` fills."""
    return docker("info", "--format", "{{.DockerRootDir}}")


def free_space(directory: str) -> list[str]:
    """POSIX ``df`` in KiB: one header line, then one line per file system."""
    return argv("df", "-Pk", "--", require_remote_path(directory, "directory"))


def parse_size(stdout: str) -> int:
    text = stdout.strip()
    if not text.isdigit():
        raise UnsafeValue(f"cannot read a file size from {text[:80]!r}")
    return int(text)


def parse_df_available(stdout: str) -> int:
    """Available bytes from ``df -Pk`` output (the last line; a long device name may wrap in
    non-POSIX mode, -P keeps it on one line)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if len(lines) < 2:
        raise UnsafeValue(f"cannot read free space from df output {stdout[:120]!r}")
    fields = lines[-1].split()
    if len(fields) < 6 or not fields[3].isdigit():
        raise UnsafeValue(f"cannot read free space from df line {lines[-1][:120]!r}")
    return int(fields[3]) * 1024
