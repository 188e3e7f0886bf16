"""What SSHTransport asks asyncssh for, and where a Target really points after ~/.ssh/config."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncssh

from console.config import Target


def connect_options(target: Target, ssh_config_path: Path | None, trusted_keys: asyncssh.SSHKnownHosts | None) -> dict:
    """Keyword arguments for ``asyncssh.connect``; ``()`` means "let ~/.ssh/config decide".

    ``trusted_keys`` None is only for resolving the destination, never for connecting.
    """
    return dict(
        host=target.host,
        # Target's defaults (port 22, no user) yield to ~/.ssh/config; explicit values win.
        port=target.port if target.port != 22 else (),
        username=target.user or (),
        config=[str(ssh_config_path)] if ssh_config_path else (),
        # Always explicit: ssh config must never be able to weaken the host key check.
        known_hosts=trusted_keys,
        # GSS key exchange can skip the host key entirely; we never want that.
        gss_kex=False,
        gss_auth=False,
        client_keys=[target.identity_file] if target.identity_file else (),
        agent_path=() if uses_agent(target) else None,
        agent_forwarding=False,
        # Nobody is there to answer a prompt: keys only.
        password_auth=False,
        kbdint_auth=False,
        # asyncssh leaves both off by default; a dead link must be noticed (interval x count:
        # a silent drop mid-step is declared (count + 1) x interval = 16 s after the last packet
        # by default, not when TCP gives up).
        connect_timeout=target.connect_timeout,
        keepalive_interval=target.keepalive_interval,
        keepalive_count_max=target.keepalive_count_max,
    )


def uses_agent(target: Target, environ=None) -> bool:
    """As OpenSSH: the agent is used when ``SSH_AUTH_SOCK`` is set, unless ``agent = false``."""
    if target.agent is not None:
        return bool(target.agent)
    return bool((os.environ if environ is None else environ).get("SSH_AUTH_SOCK"))


def resolve_destination(options: dict, target: Target) -> tuple[str, int, str]:
    """Host, port and user after ssh config aliases, for messages and ssh-keyscan lines."""
    try:
        resolved = asyncssh.SSHClientConnectionOptions(
            config=options["config"],
            host=options["host"],
            port=options["port"],
            username=options["username"],
            known_hosts=None,
            client_keys=None,
            agent_path=None,
            gss_kex=False,
            gss_auth=False,
        )
        return resolved.host, resolved.port, resolved.username
    except (OSError, ValueError, asyncssh.Error):
        return target.host, target.port, target.user or "?"


async def read_server_key(options: dict, timeout: float) -> asyncssh.SSHKey | None:
    """The key the server presents; the probe disconnects after key exchange, before any auth."""
    try:
        return await asyncio.wait_for(
            asyncssh.get_server_host_key(options["host"], options["port"], config=options["config"]), timeout
        )
    except (asyncssh.Error, OSError, TimeoutError):
        return None
