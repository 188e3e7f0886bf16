"""[[hosts]] and [fleet]: a fleet of hosts running the same compose project."""

from pathlib import Path

import pytest

from console.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"

HOSTS = """
[[hosts]]
name = "web1"
host = "10.0.0.1"
roles = ["web", "migrations"]
[[hosts.health]]
name = "backend"
url = "http://10.0.0.1:8081/api/health"

[[hosts]]
name = "web2"
host = "10.0.0.2"
roles = ["web"]
port = 2200
project_dir = "/srv/mr-dj"
[[hosts.health]]
name = "backend"
url = "http://10.0.0.2:8081/api/health"

[[hosts]]
name = "web3"
host = "10.0.0.3"
roles = "web"
[[hosts.health]]
name = "backend"
url = "http://10.0.0.3:8081/api/health"
"""


def fleet_config(tmp_path, extra: str = "", hosts: str = HOSTS, drop_host: bool = True):
    text = EXAMPLE.read_text()
    if drop_host:
        text = text.replace('host = "vps.example.com"', "", 1)
    path = tmp_path / "fleet.toml"
    path.write_text(text + hosts + extra)
    return path


def problems(path) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return dict(info.value.problems)


def test_hosts_inherit_the_target_and_override_what_differs(tmp_path):
    config = load_config(fleet_config(tmp_path))
    fleet = config.fleet
    assert fleet is not None and fleet.names == ["web1", "web2", "web3"]
    web1, web2 = fleet.host("web1"), fleet.host("web2")
    assert (web1.target.host, web1.target.port, web1.target.user) == ("10.0.0.1", 22, "deploy")
    assert web1.target.project_dir == "/opt/mr-dj" and web2.target.project_dir == "/srv/mr-dj"
    assert web2.target.port == 2200 and web2.target.project_name == "mr-dj"
    assert fleet.host("web3").roles == ("web",)
    assert fleet.migrations_host == "web1"
    # single-host code paths see the first host
    assert config.target.host == "10.0.0.1" and config.health[0].url.startswith("http://10.0.0.1")
    aimed = config.on_host("web2")
    assert aimed.target.host == "10.0.0.2" and aimed.health[0].url == "http://10.0.0.2:8081/api/health"
    assert config.host_names == ["web1", "web2", "web3"]


def test_the_canary_defaults_to_a_host_that_does_not_run_migrations_which_go_last(tmp_path):
    fleet = load_config(fleet_config(tmp_path, "\n[fleet]\nbatch_size = 2\n")).fleet
    assert fleet.canary == "web2"
    assert fleet.waves() == [["web2"], ["web3", "web1"]]
    fleet = load_config(fleet_config(tmp_path, "\n[fleet]\ncanary = 'web3'\nbatch_size = 1\n")).fleet
    assert fleet.waves() == [["web3"], ["web2"], ["web1"]]
    fleet = load_config(fleet_config(tmp_path, "\n[fleet]\ncanary = 'none'\nbatch_size = 3\n")).fleet
    assert fleet.canary is None and fleet.waves() == [["web2", "web3", "web1"]]


def test_single_target_configs_have_no_fleet():
    config = load_config(EXAMPLE)
    assert config.fleet is None and config.host_names == ["target"] and config.target.engine == "compose"


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ("\n[fleet]\ncanary = 'web9'\n", "fleet.canary", "not one of"),
        ("\n[fleet]\ncanary = 'web1'\n", "fleet.canary", "pick another canary"),
        ("\n[fleet]\nbatch_size = 0\n", "fleet.batch_size", "at least 1"),
        ("\n[fleet]\ncanary_pause_seconds = -1\n", "fleet.canary_pause_seconds", "negative"),
        ("\n[fleet]\nspeed = 3\n", "fleet.speed", "unknown key"),
    ],
)
def test_bad_fleet_settings_name_their_key(tmp_path, extra, key, words):
    assert words in problems(fleet_config(tmp_path, extra))[key]


def test_host_problems_name_the_host_entry(tmp_path):
    hosts = HOSTS.replace('name = "web2"', 'name = "Web 2"').replace(
        'host = "10.0.0.3"', 'host = "10.0.0.1"\nflavour = 1'
    )
    found = problems(fleet_config(tmp_path, hosts=hosts))
    assert "hosts[1].name" in found and "hosts[2].flavour" in found
    hosts = HOSTS.replace('name = "web3"', 'name = "web1"')
    assert "used twice" in problems(fleet_config(tmp_path, hosts=hosts))["hosts"]


def test_two_migrations_hosts_or_none_are_refused(tmp_path):
    hosts = HOSTS.replace('roles = ["web"]', 'roles = ["web", "migrations"]')
    assert "only one host" in problems(fleet_config(tmp_path, hosts=hosts))["hosts"]
    hosts = HOSTS.replace('roles = ["web", "migrations"]', 'roles = ["web"]')
    assert "migrations" in problems(fleet_config(tmp_path, hosts=hosts))["hosts"]


def test_the_same_host_twice_is_refused(tmp_path):
    hosts = HOSTS.replace('host = "10.0.0.3"', 'host = "10.0.0.1"')
    assert "one host" in problems(fleet_config(tmp_path, hosts=hosts))["hosts"]


def test_engine_is_compose_or_swarm(tmp_path):
    text = EXAMPLE.read_text().replace('compose_command = "auto"', 'engine = "swarm"\ncompose_command = "auto"', 1)
    (tmp_path / "s.toml").write_text(text)
    assert load_config(tmp_path / "s.toml").target.engine == "swarm"
    (tmp_path / "k.toml").write_text(text.replace('engine = "swarm"', 'engine = "k8s"'))
    assert "swarm" in problems(tmp_path / "k.toml")["target.engine"]


def test_a_fleet_target_may_leave_the_project_dir_to_each_host(tmp_path):
    def without_target_dir(hosts: str, name: str) -> Path:
        path = fleet_config(tmp_path, hosts=hosts)
        text = path.read_text().replace('\nproject_dir = "/opt/mr-dj"', "\n", 1)
        assert 'project_dir = "/opt/mr-dj"        #' not in text
        (tmp_path / name).write_text(text)
        return tmp_path / name

    hosts = HOSTS.replace('name = "web1"', 'name = "web1"\nproject_dir = "/srv/one"').replace(
        'name = "web3"', 'name = "web3"\nproject_dir = "/srv/three"'
    )
    fleet = load_config(without_target_dir(hosts, "dirs.toml")).fleet
    assert [h.target.project_dir for h in fleet.hosts] == ["/srv/one", "/srv/mr-dj", "/srv/three"]
    found = problems(without_target_dir(HOSTS, "missing.toml"))
    assert "hosts[0].project_dir" in found and "target.project_dir" not in found


def test_a_fleet_of_swarm_managers_is_refused(tmp_path):
    text = (
        fleet_config(tmp_path)
        .read_text()
        .replace('compose_command = "auto"', 'engine = "swarm"\ncompose_command = "auto"', 1)
    )
    (tmp_path / "swarmfleet.toml").write_text(text)
    assert "a swarm is one [target]" in problems(tmp_path / "swarmfleet.toml")["hosts"]
