"""The release a fleet runs: one answer, the newest when hosts disagree, unknown for a stray build."""

from __future__ import annotations

from console.config import load_config
from console.release.deployed import Deployment
from console.release.fleet_deployed import fleet_release
from tests._screens_support import write_release_log
from tests.test_fleet_config import fleet_config


def deployed(release, *errors):
    return Deployment(release=release, services={}, release_log_deployed="v2", errors=list(errors))


def config_with_log(tmp_path):
    path = fleet_config(tmp_path)
    path.write_text(path.read_text().replace('release_log = "', f'release_log = "{tmp_path}/releases.toml" #', 1))
    write_release_log(tmp_path / "releases.toml")
    return load_config(path)


def test_a_fleet_that_agrees_runs_that_release(tmp_path):
    config = config_with_log(tmp_path)
    release, notes = fleet_release(config, {"web1": deployed("v2"), "web2": deployed("v2"), "web3": deployed("v2")})
    assert (release, notes) == ("v2", [])


def test_a_half_rolled_fleet_starts_from_the_newest_release_and_says_so(tmp_path):
    config = config_with_log(tmp_path)
    release, notes = fleet_release(config, {"web1": deployed("v2"), "web2": deployed("v1"), "web3": deployed("v2")})
    assert release == "v2"
    assert notes == ["the hosts disagree (web2 runs v1; web1/web3 run v2): starting from v2, the newest"]


def test_a_host_running_an_uncaptured_build_leaves_it_unknown(tmp_path):
    config = config_with_log(tmp_path)
    release, notes = fleet_release(
        config, {"web1": deployed("v2"), "web2": deployed(None, "cannot read the host"), "web3": deployed("v2")}
    )
    assert release is None
    assert "web2: cannot read the host" in notes and "web2 runs no release the release log captured" in notes
