"""Strict host key trust: which keys we accept, and what to tell the operator when we refuse.

The known_hosts file is always handed to asyncssh explicitly, so nothing in
``~/.ssh/config`` (``UserKnownHostsFile none``, ``StrictHostKeyChecking no``)
can switch the check off. A missing file means "trust nothing", not "trust all".
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import asyncssh

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def known_hosts_path(configured: str | None) -> Path:
    return Path(os.path.expanduser(configured or DEFAULT_KNOWN_HOSTS))


def load_trusted_keys(path: Path) -> asyncssh.SSHKnownHosts:
    """The trusted keys in ``path``; an absent file trusts no key at all."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    return asyncssh.import_known_hosts(text)


def known_hosts_entry_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def has_entry_for(path: Path, host: str, port: int) -> bool:
    """Whether ``path`` already trusts *some* key for this host (so ours is a changed key)."""
    try:
        trusted = load_trusted_keys(path)
        host_keys, ca_keys, *_ = trusted.match(host, "", port)
    except (OSError, ValueError):
        return False
    return bool(host_keys or ca_keys)


def key_type_for_keyscan(key: asyncssh.SSHKey) -> str:
    algorithm = key.get_algorithm()
    return {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa", "ssh-dss": "dsa"}.get(
        algorithm, "ecdsa" if algorithm.startswith("ecdsa") else algorithm
    )


def rejection_message(host: str, port: int, path: Path, key: asyncssh.SSHKey | None, changed: bool) -> str:
    """What the operator needs to decide whether to trust the server's key, and how."""
    where = f"{host}:{port}"
    lines = []
    if changed:
        lines.append(
            f"The host key of {where} has CHANGED and does not match {path}. "
            "Someone may be intercepting the connection, or the host was rebuilt."
        )
    else:
        lines.append(f"The host key of {where} is unknown: {path} has no entry for it.")
    if key is None:
        lines.append("The server's key could not be read to show its fingerprint.")
    else:
        lines.append(f"Server key: {key.get_algorithm()} {key.get_fingerprint('sha256')}")
        lines.append(
            "Compare it on the host's own console with: "
            'for f in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "$f"; done'
        )
    trust = (
        f"ssh-keyscan -p {port}"
        + (f" -t {key_type_for_keyscan(key)}" if key is not None else "")
        + f" {shlex.quote(host)} >> {shlex.quote(str(path))}"
    )
    if changed:
        entry = known_hosts_entry_name(host, port)
        lines.append(
            "Only if the fingerprints match, replace the old entry: "
            f"ssh-keygen -R {shlex.quote(entry)} -f {shlex.quote(str(path))} && {trust}"
        )
    else:
        lines.append(f"Only if the fingerprints match, trust it with: {trust}")
    return "\n".join(lines)
