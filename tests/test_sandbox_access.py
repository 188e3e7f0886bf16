"""tests/_sandbox_access.py: the OpenSSH command the sandbox tests and the benchmarks reach a host with,
and how they read the sandbox's "source me" files. No network."""

from __future__ import annotations

import shlex

from console.config import Target
from tests._sandbox_access import exported, openssh_argv

TARGET = Target(host="127.0.0.1", port=2222, user="deploy", identity_file="/s/id_ed25519", known_hosts="/s/known_hosts")
TABLE = {"host": "127.0.0.1", "port": 2222, "user": "deploy", "identity_file": "/s/id_ed25519", "known_hosts": "/s/kh"}


def test_a_console_target_gives_the_operators_ssh_with_only_its_own_key_and_known_hosts():
    assert shlex.join(openssh_argv(TARGET)) == (
        "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/s/known_hosts"
        " -i /s/id_ed25519 -p 2222 deploy@127.0.0.1"
    )


def test_a_config_files_target_table_another_host_and_a_connect_timeout():
    assert shlex.join(openssh_argv(TABLE, host="127.0.0.12", connect_timeout=10)) == (
        "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/s/kh"
        " -o ConnectTimeout=10 -i /s/id_ed25519 -p 2222 deploy@127.0.0.12"
    )


def test_a_source_me_file_gives_its_exports_unquoted(tmp_path):
    env_sh = tmp_path / "fleet-env.sh"
    env_sh.write_text(
        "# source me: the fleet's database (sandbox/fleet.sh)\n"
        "export SANDBOX_FLEET_DATABASE_URL='postgresql://mrdj:pw@127.0.0.1:55432/mrdj_fleet?a=b'\n"
    )
    assert exported(env_sh) == {"SANDBOX_FLEET_DATABASE_URL": "postgresql://mrdj:pw@127.0.0.1:55432/mrdj_fleet?a=b"}
