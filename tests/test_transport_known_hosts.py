"""Host key trust and the connection options SSHTransport hands to asyncssh (no network)."""

import asyncio
from pathlib import Path

import asyncssh
import pytest

from console.config import Target
from console.failures import HostKeyRejected
from console.transport.known_hosts import has_entry_for, known_hosts_path, load_trusted_keys, rejection_message
from console.transport.ssh import SSHTransport


def public_key():
    return asyncssh.generate_private_key("ssh-ed25519").convert_to_public()


def test_missing_file_trusts_nothing(tmp_path):
    trusted = load_trusted_keys(tmp_path / "absent")
    assert trusted.match("127.0.0.1", "", 2222)[0] == []


def test_default_path_is_the_users_known_hosts(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert known_hosts_path(None) == tmp_path / ".ssh" / "known_hosts"
    assert known_hosts_path("~/kh") == tmp_path / "kh"


def test_entry_lookup_respects_port(tmp_path):
    key = public_key().export_public_key().decode().split()
    path = tmp_path / "known_hosts"
    path.write_text(f"[127.0.0.1]:2222 {key[0]} {key[1]}\n")
    assert has_entry_for(path, "127.0.0.1", 2222)
    assert not has_entry_for(path, "127.0.0.1", 22)
    assert not has_entry_for(tmp_path / "absent", "127.0.0.1", 2222)


def test_unknown_key_message_gives_fingerprint_check_and_exact_trust_line():
    key = public_key()
    message = rejection_message("127.0.0.1", 2222, Path("/k/known hosts"), key, changed=False)
    assert key.get_fingerprint("sha256") in message
    assert "unknown" in message
    assert "ssh-keygen -lf" in message
    assert message.endswith("trust it with: ssh-keyscan -p 2222 -t ed25519 127.0.0.1 >> '/k/known hosts'")


def test_changed_key_message_warns_and_says_how_to_replace_the_entry():
    key = public_key()
    message = rejection_message("vps.example.com", 22, Path("/k/kh"), key, changed=True)
    assert "CHANGED" in message and key.get_fingerprint("sha256") in message
    assert "ssh-keygen -R vps.example.com -f /k/kh && ssh-keyscan -p 22 -t ed25519 vps.example.com >> /k/kh" in message


def test_message_without_a_readable_key_still_says_how_to_trust():
    message = rejection_message("127.0.0.1", 2222, Path("/k/kh"), None, changed=False)
    assert "could not be read" in message and "ssh-keyscan -p 2222 127.0.0.1 >> /k/kh" in message


def test_connect_options_are_strict_and_take_timeouts_from_the_target(tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    target = Target(
        host="127.0.0.1",
        port=2222,
        user="deploy",
        identity_file="/k/id",
        known_hosts=str(known),
        connect_timeout=7.0,
        keepalive_interval=11.0,
    )
    config = tmp_path / "ssh_config"
    config.write_text("")
    options = SSHTransport(target, ssh_config_path=config)._connect_options()
    assert isinstance(options["known_hosts"], asyncssh.SSHKnownHosts)  # never None, never from config
    assert options["agent_forwarding"] is False
    assert options["agent_path"] is None  # agent = false: do not even ask the agent
    assert options["client_keys"] == ["/k/id"]
    assert options["connect_timeout"] == 7.0 and options["keepalive_interval"] == 11.0
    assert options["keepalive_count_max"] >= 1
    assert options["gss_kex"] is False
    assert options["config"] == [str(config)]
    assert (options["port"], options["username"]) == (2222, "deploy")


def test_target_defaults_yield_to_ssh_config(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host vps\n  HostName 10.0.0.5\n  Port 2200\n  User ops\n")
    transport = SSHTransport(Target(host="vps", agent=True), ssh_config_path=config)
    options = transport._connect_options()
    assert options["port"] == () and options["username"] == () and options["agent_path"] == ()
    assert transport.description == "ops@10.0.0.5:2200"


def test_unreadable_known_hosts_refuses_instead_of_trusting(tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("garbage\n")
    transport = SSHTransport(
        Target(host="127.0.0.1", port=2222, user="deploy", known_hosts=str(known)), ssh_config_path=None
    )
    with pytest.raises(HostKeyRejected, match="cannot use"):
        asyncio.run(transport.connect())
