"""The code hotfix procedure: staging validation before production (no network: fake transports)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from console.config import load_config
from console.engine.context import StepContext
from console.engine.hotfix import code_hotfix_procedure
from console.engine.procedure import Procedure
from console.engine.runner import Choice, StepEngine
from console.failures import FailureReason
from console.incident.journal import Journal
from console.release.release_log import ReleaseLog
from console.transport.base import CommandResult

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
RELEASES = """
deployed = "v2"
[[releases]]
tag = "v2"
captured_at = "2026-11-24T10:00:00Z"
pushed = true
[releases.files]
"v2-compose.tar.gz" = "aa"
[[releases]]
tag = "v3"
captured_at = "2026-11-25T10:00:00Z"
pushed = true
[releases.files]
"v3-compose.tar.gz" = "bb"
"""


class RecordingTransport:
    """Answers every command with exit 0 (or the code given for an argv fragment) and remembers it."""

    def __init__(self, name: str, fail_on: str | None = None) -> None:
        self.description = name
        self.fail_on = fail_on
        self.ran: list[list[str]] = []
        self.closed = False

    async def connect(self) -> None:
        pass

    async def run(self, argv, *, timeout=None, on_output=None, stdin=None, capture=False):
        self.ran.append(list(argv))
        failed = self.fail_on is not None and self.fail_on in " ".join(argv)
        return CommandResult(list(argv), 1 if failed else 0, 0.0)

    async def close(self) -> None:
        self.closed = True


class AbortingDecider:
    def __init__(self):
        self.failures = []

    async def confirm(self, step, prompt):
        return True

    async def on_failure(self, step, failure):
        self.failures.append((step.id, failure.reason))
        return Choice("abort")


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "releases.toml"
    path.write_text(RELEASES)
    return ReleaseLog.load(path)


@pytest.fixture
def config(tmp_path):
    return dataclasses.replace(
        load_config(EXAMPLE), paths=dataclasses.replace(load_config(EXAMPLE).paths, state_dir=tmp_path / "state")
    )


def test_without_staging_the_validation_is_one_skipped_step_that_never_claims_success(config, log):
    procedure = code_hotfix_procedure(dataclasses.replace(config, staging=None), log, "v2", "v3", 1)
    staging = [s for s in procedure.steps if "staging" in s.id]
    assert [s.id for s in staging] == ["validate_staging"]
    assert "no [staging] target" in staging[0].when(None)


def test_with_staging_every_staging_step_runs_there_before_production_is_touched(config, log):
    procedure = code_hotfix_procedure(config, log, "v2", "v3", 1)
    ids = [s.id for s in procedure.steps]
    staging = [s for s in procedure.steps if s.host == "staging"]
    assert [s.id for s in staging] == [
        "staging_verify_artifacts",
        "staging_compose_file",
        "staging_pull_mr-dj-backend",
        "staging_pull_mr-dj-frontend",
        "staging_up",
        "staging_health",
        "staging_smoke_backend",
        "staging_smoke_frontend",
    ]
    first_production_change = min(ids.index(s.id) for s in procedure.steps if s.mutating and s.host == "target")
    assert max(ids.index(s.id) for s in staging) < first_production_change
    by_id = {s.id: s for s in procedure.steps}
    # staging takes only the compose file: its own env files stay, production secrets never go there
    assert by_id["staging_compose_file"].argv[-2:] == ["--", "docker-compose.yml"]
    assert "/opt/mr-dj-staging" in by_id["staging_compose_file"].argv
    # compose_command = "auto" and the host not asked yet: v2 first
    assert by_id["staging_up"].argv[:4] == ["docker", "compose", "-p", "mr-dj-staging"]
    # the smoke test runs with docker exec in the staging project's container (console.commands.containers)
    assert by_id["staging_smoke_backend"].argv[3:6] == ["sh", "mr-dj-staging", "mr-dj-backend"]
    assert by_id["staging_health"].display == "https://staging.sevensa.nl/api/health"
    # the rollback's artifact check, on staging's link and never at once with production's checks
    assert by_id["staging_verify_artifacts"].display == by_id["verify_artifacts"].display
    assert (by_id["staging_verify_artifacts"].together, by_id["staging_verify_artifacts"].preflight) == ("", True)
    assert not any(s.destructive for s in staging)
    assert by_id["compose_up"].argv[:4] == ["docker", "compose", "-p", "mr-dj"]
    # production is verified like a rollback once the monitoring window is over
    assert ids[ids.index("monitor") + 1 :] == [
        "verify_ps",
        "verify_logs",
        "verify_health",
        "smoke_backend",
        "smoke_frontend",
    ]


@pytest.mark.parametrize("team_deploy", [None, ["./deploy.sh"]])
@pytest.mark.parametrize("pushed", [True, False])
def test_the_release_checks_are_the_rollbacks_whatever_deploys_it(config, log, pushed, team_deploy):
    from console.engine.rollback import rollback_procedure

    log.get("v3").pushed = pushed
    config = dataclasses.replace(config, commands=dataclasses.replace(config.commands, deploy=team_deploy))
    hotfix = code_hotfix_procedure(config, log, "v2", "v3", 1)
    rollback = rollback_procedure(config, log, "v2", "v3")
    # pulled images must exist (on the host or in the registry), loaded ones need room: both before
    # anything on the host changes
    images = "images_available" if pushed else "disk_space"
    first_change = next(i for i, step in enumerate(hotfix.steps) if step.mutating)
    assert {"verify_artifacts", "inspect_bundle", images} <= {step.id for step in hotfix.steps[:first_change]}
    for step_id in ("verify_artifacts", "inspect_bundle", images):
        assert hotfix.step(step_id).describe() == rollback.step(step_id).describe()
    # the image tarball is hashed too when the images are loaded from it, and the display says so
    assert ("v3-images.tar" in hotfix.step("verify_artifacts").display) is not pushed
    assert "no absolute paths, .. or links" in hotfix.step("inspect_bundle").title


async def _run(config, procedure, production, staging):
    journal = Journal.create(config.paths.state_dir)
    ctx = StepContext(config, production, journal, operator="tester", staging_transport=staging)
    decider = AbortingDecider()
    engine = StepEngine(procedure, ctx, decider, assume_yes=True)
    return await engine.run(), journal, decider


async def test_staging_steps_go_over_the_staging_link_and_production_steps_over_the_target(config, log):
    procedure = code_hotfix_procedure(config, log, "v2", "v3", 1)
    # only the command steps: the health and artifact checks would need real hosts
    commands = Procedure(procedure.name, [s for s in procedure.steps if s.argv is not None], "v2", "v3")
    production, staging = RecordingTransport("prod"), RecordingTransport("staging")
    outcome, journal, _ = await _run(config, commands, production, staging)
    assert outcome == "succeeded"
    assert staging.ran == [s.argv for s in commands.steps if s.host == "staging"]
    assert production.ran == [s.argv for s in commands.steps if s.host == "target"]
    assert not any("mr-dj-staging" in " ".join(a) for a in production.ran)
    assert ["docker", "pull", "registry.example.com/mr-dj-backend:v3"] in staging.ran
    started = {r.step_id: r.host for r in journal.records() if r.kind == "step_started"}
    assert started["staging_up"] == "staging" and started["compose_up"] == "target"


async def test_a_hotfix_failing_on_staging_stops_before_production(config, log):
    procedure = code_hotfix_procedure(config, log, "v2", "v3", 1)
    commands = Procedure(procedure.name, [s for s in procedure.steps if s.argv is not None], "v2", "v3")
    production, staging = RecordingTransport("prod"), RecordingTransport("staging", fail_on=" up -d")
    outcome, journal, decider = await _run(config, commands, production, staging)
    assert outcome == "failed"
    assert decider.failures == [("staging_up", FailureReason.NON_ZERO_EXIT)]
    assert production.ran == []
    assert not any(r.kind == "step_started" and r.host == "target" for r in journal.records())


async def test_a_staging_step_without_a_staging_target_fails_as_a_precondition(config, log):
    procedure = code_hotfix_procedure(config, log, "v2", "v3", 1)
    only_staging = Procedure(procedure.name, [procedure.step("staging_up")], "v2", "v3")
    outcome, _, decider = await _run(config, only_staging, RecordingTransport("prod"), None)
    assert outcome == "failed"
    assert decider.failures == [("staging_up", FailureReason.PRECONDITION)]


def test_resuming_an_undo_restores_the_same_env_file_it_started_with(config, log):
    from console.engine.hotfix import build_config_hotfix, rebuild_hotfix

    first = build_config_hotfix(
        config,
        service="mr-dj-backend",
        env_file="config/prod.env",
        keys=[],
        flag_command=None,
        undo_incident="20261125-101010-abcd",
    )
    again = rebuild_hotfix(config, log, "config_hotfix", {}, first.options)
    assert again.step("restore_env").argv == first.step("restore_env").argv
    assert "/opt/mr-dj/config/prod.env" in " ".join(again.step("restore_env").argv)
