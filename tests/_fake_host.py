"""A fake SSH host on 127.0.0.1: asyncssh's server runs each command line through a local shell.

The shell can be this machine's ``sh`` or BusyBox's (an Alpine-like host: ``setsid`` without
``-w``), and a login banner can be printed on stderr before the command, as some login shells do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from pathlib import Path

import asyncssh

from console.config import load_config
from console.transport.ssh import SSHTransport

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX_APPLETS = ("sh", "setsid", "sleep", "cat", "true", "kill", "ps", "cut", "echo", "grep")


def busybox_bin(tmp_path: Path) -> Path:
    """A PATH directory where every tool a step needs is a BusyBox applet."""
    busybox = shutil.which("busybox")
    assert busybox, "busybox (busybox-static) is needed for the Alpine-like host"
    bin_dir = tmp_path / "busybox-bin"
    bin_dir.mkdir()
    for applet in BUSYBOX_APPLETS:
        (bin_dir / applet).symlink_to(busybox)
    return bin_dir


class _NoAuth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return False


async def _forward(reader: asyncio.StreamReader, writer) -> None:
    while data := await reader.read(65536):
        try:
            writer.write(data)
        except (asyncssh.Error, OSError):  # the client went away: keep reading so the command can end
            pass


async def _forward_stdin(process, local) -> None:
    try:
        while data := await process.stdin.read(65536):
            local.stdin.write(data)
            await local.stdin.drain()
    except (asyncssh.Error, OSError):
        pass
    finally:
        local.stdin.close()


class FakeHost:
    def __init__(self, *, path: str | None = None, banner: str = "") -> None:
        self.env = dict(os.environ, PATH=path) if path else dict(os.environ)
        self.banner = banner
        self.server: asyncssh.SSHAcceptor | None = None

    async def _handle(self, process: asyncssh.SSHServerProcess) -> None:
        line = process.command
        if self.banner:
            line = f"printf '%s\\n' {self.banner!r} >&2; {line}"
        local = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            line,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            start_new_session=True,
        )
        # Output is forwarded until both pipes end, and only then the exit status is sent: as
        # sshd does. (asyncssh's redirect() with exit() right after the process ended could close
        # the channel before the last output was forwarded, losing it on a busy machine.)
        feeding = asyncio.ensure_future(_forward_stdin(process, local))
        try:
            await asyncio.gather(_forward(local.stdout, process.stdout), _forward(local.stderr, process.stderr))
            status = await local.wait()
        finally:
            feeding.cancel()
        try:
            process.exit(status)
            await process.wait_closed()
        except (asyncssh.Error, OSError):
            pass

    async def start(self) -> int:
        key = asyncssh.generate_private_key("ssh-ed25519")
        self.server = await asyncssh.listen(
            "127.0.0.1", 0, server_host_keys=[key], server_factory=_NoAuth, process_factory=self._handle, encoding=None
        )
        return self.server.sockets[0].getsockname()[1]

    async def transport(self, tmp_path: Path, kill_grace: float = 1.0) -> SSHTransport:
        """An SSHTransport already connected to this host (host-key pinning is the sandbox's test)."""
        port = await self.start()
        base = load_config(ROOT / "config.example.toml").target
        target = dataclasses.replace(base, host="127.0.0.1", port=port)
        empty = tmp_path / "ssh_config"
        empty.write_text("")
        transport = SSHTransport(target, ssh_config_path=empty, kill_grace=kill_grace)
        transport._conn = await asyncssh.connect(
            "127.0.0.1", port, known_hosts=None, username="deploy", client_keys=None, agent_path=None
        )
        return transport

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
