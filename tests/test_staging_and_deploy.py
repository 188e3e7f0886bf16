"""Capture uploads to every target that needs the release; a hotfix deploys with the team's command."""

import dataclasses
import shlex
from pathlib import Path

import pytest

from console.capture.targets import upload_targets
from console.commands.deploy import team_deploy
from console.config import load_config
from console.engine.hotfix import code_hotfix_procedure
from console.release.release_log import Release, ReleaseLog
from console.validate import UnsafeValue

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def test_the_team_deploy_command_runs_in_the_project_dir_with_the_tag_last():
    argv = team_deploy("/opt/shop", ["./deploy.sh", "--env", "prod"], "v3")
    assert shlex.join(argv) == (
        'sh -c \'cd "$1" || exit 125; shift; exec "$@"\' sh /opt/shop ./deploy.sh --env prod v3'
    )
    with pytest.raises(UnsafeValue):
        team_deploy("/opt/shop", ["./deploy.sh"], "v3; rm -rf /")
    with pytest.raises(UnsafeValue):
        team_deploy("relative", ["./deploy.sh"], "v3")


def hotfix_config(deploy):
    config = load_config(EXAMPLE)
    return dataclasses.replace(config, commands=dataclasses.replace(config.commands, deploy=deploy), staging=None)


def log_with_v3(tmp_path):
    return ReleaseLog(
        tmp_path / "r.toml",
        [
            Release(
                "v3",
                "2026-11-20T10:00:00Z",
                pushed=True,
                images={"mr-dj-backend": {"ref": "r/b:v3", "digest": "sha256:" + "a" * 64}},
            )
        ],
    )


def test_a_hotfix_deploys_with_the_team_command_instead_of_the_bundle_restore(tmp_path):
    procedure = code_hotfix_procedure(hotfix_config(["./deploy.sh"]), log_with_v3(tmp_path), "v2", "v3")
    ids = [s.id for s in procedure.steps]
    assert "team_deploy" in ids and not {"restore_bundle", "compose_up", "pull_images"} & set(ids)
    step = procedure.steps[ids.index("team_deploy")]
    assert step.destructive and step.mutating and step.command.endswith("/opt/mr-dj ./deploy.sh v3")
    assert ids.index("validate_staging") < ids.index("team_deploy") < ids.index("monitor")
    assert procedure.options["deploy"] == "team_command"
    without = code_hotfix_procedure(hotfix_config(None), log_with_v3(tmp_path), "v2", "v3")
    assert {"restore_bundle", "compose_up"} <= {s.id for s in without.steps}
    assert without.options["deploy"] == "bundle"


def test_staging_gets_the_artifacts_when_its_directory_is_another_one():
    config = load_config(EXAMPLE)
    assert [label for label, _ in upload_targets(config)] == ["production", "staging"]  # another host
    label, aimed = upload_targets(config)[1]
    assert aimed.target.host == "staging.example.com"
    same = dataclasses.replace(
        config,
        staging=dataclasses.replace(
            config.staging, target=dataclasses.replace(config.staging.target, host=config.target.host)
        ),
    )
    assert [label for label, _ in upload_targets(same)] == ["production"]  # same host, port and directory
    other_dir = dataclasses.replace(
        same,
        staging=dataclasses.replace(
            same.staging, target=dataclasses.replace(same.staging.target, artifacts_dir="/srv/staging-artifacts")
        ),
    )
    assert [label for label, _ in upload_targets(other_dir)] == ["production", "staging"]
    assert [label for label, _ in upload_targets(dataclasses.replace(config, staging=None))] == ["production"]
