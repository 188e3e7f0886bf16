"""The one probe the console runs on the host at connect time: compose flavour and architecture."""

import shlex

import pytest

from console import host_facts
from console.config import Target
from console.transport.base import CommandResult


def test_probe_is_one_fixed_shell_command():
    argv = host_facts.probe_argv()
    assert argv[:2] == ["sh", "-c"]
    assert "docker compose version" in argv[2] and "command -v docker-compose" in argv[2]
    assert "uname -m" in argv[2]
    assert shlex.join(argv).startswith("sh -c ")


@pytest.mark.parametrize(
    "stdout, flavours, platform",
    [
        ("compose=v2\ncompose=v1\narch=x86_64\n", ("docker compose", "docker-compose"), "linux/amd64"),
        ("compose=v1\narch=aarch64\n", ("docker-compose",), "linux/arm64"),
        ("arch=x86_64\n", (), "linux/amd64"),
        ("welcome banner\ncompose=v9\narch=\n", (), None),
    ],
)
def test_parse_probe(stdout, flavours, platform):
    facts = host_facts.parse_probe(stdout)
    assert facts.flavours == flavours and facts.platform == platform


class OneAnswer:
    def __init__(self, stdout):
        self.stdout, self.calls = stdout, 0

    async def run(self, argv, *, timeout=None, capture=False, **_):
        self.calls += 1
        return CommandResult(argv, 0, 0.01, stdout=self.stdout)


async def test_probe_runs_once_per_target_and_describes_the_choice():
    host_facts.forget_all()
    target = Target(host="vps", user="deploy")
    link = OneAnswer("compose=v1\ncompose=v2\narch=x86_64\n")
    try:
        assert "not yet detected" in host_facts.describe_flavour(target)
        facts = await host_facts.probe_host(link, target)
        await host_facts.probe_host(link, target)
        assert link.calls == 1 and facts.compose == "docker compose"
        assert (
            host_facts.describe_flavour(target)
            == "docker compose (detected on the host: docker compose and docker-compose)"
        )
        assert (
            host_facts.describe_flavour(Target(host="vps", compose_command="docker-compose"))
            == "docker-compose (compose_command in the config)"
        )
    finally:
        host_facts.forget_all()


def test_ssh_agent_is_used_when_ssh_auth_sock_is_set_unless_agent_false():
    from console.transport.ssh_options import connect_options, uses_agent

    sock = {"SSH_AUTH_SOCK": "/tmp/agent.sock"}
    assert uses_agent(Target(host="h"), sock) is True
    assert uses_agent(Target(host="h"), {}) is False
    assert uses_agent(Target(host="h", agent=False), sock) is False
    assert uses_agent(Target(host="h", agent=True), {}) is True
    assert connect_options(Target(host="h", agent=False), None, None)["agent_path"] is None


def test_staging_on_the_same_host_shares_the_hosts_answer():
    host_facts.forget_all()
    production = Target(host="vps", user="deploy", project_dir="/opt/app")
    staging = Target(host="vps", user="deploy", project_dir="/opt/app-staging")
    try:
        host_facts.remember(production, host_facts.parse_probe("compose=v1\n"))
        assert host_facts.flavour_for(staging) == "docker-compose"
        assert host_facts.flavour_for(Target(host="other")) == "docker compose"
    finally:
        host_facts.forget_all()


class Link(OneAnswer):
    def __init__(self, stdout):
        super().__init__(stdout)
        self.connected = False

    async def connect(self):
        self.connected = True

    async def close(self):
        self.connected = False


async def test_a_session_asks_the_host_at_connect_and_rebuilds_a_procedure_built_for_another_flavour(monkeypatch):
    from types import SimpleNamespace

    from console.incident import session as session_module

    host_facts.forget_all()
    config = SimpleNamespace(target=Target(host="vps", user="deploy", compose_command="auto"))
    link = Link("compose=v1\narch=x86_64\n")
    monkeypatch.setattr(session_module.engine_incident, "make_transport", lambda _config: link)
    built = []
    try:
        s = session_module.IncidentSession(config, None)
        procedure = await s.connect_for(
            "built for v2", lambda: built.append(host_facts.flavour_for(config.target)) or "built again"
        )
        assert link.connected and link.calls == 1
        assert procedure == "built again" and built == ["docker-compose"]
        # the flavour is the one the procedure was built for: nothing is built again
        assert await session_module.IncidentSession(config, None).connect_for("v1 one", lambda: "again") == "v1 one"
        # a configured flavour is never asked about
        fixed = SimpleNamespace(target=Target(host="other", compose_command="docker compose"))
        calls = link.calls
        await session_module.IncidentSession(fixed, None).connect()
        assert link.calls == calls
    finally:
        host_facts.forget_all()
