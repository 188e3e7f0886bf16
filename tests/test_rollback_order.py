"""The rollback's step order: what changes nothing the running stack uses comes before the window.

The read-only schema check and the registry pulls/tags run before ``maintenance_on`` (the first
disruptive step), so they are not part of the downtime (docs/BENCHMARKS.md); the destructive
steps keep their order.
"""

from __future__ import annotations

from console.engine.rollback import rollback_procedure
from console.release.release_log import Release, ReleaseLog
from test_engine_runner import config  # noqa: F401 (fixture)

DIGEST = "sha256:" + "ab" * 32


def release_log(config, *, pushed: bool) -> ReleaseLog:
    images = {s.image: {"digest": DIGEST} for s in config.services} if pushed else {}
    return ReleaseLog(
        config.paths.release_log,
        [
            Release(
                tag="v1", captured_at="2026-11-28T10:00:00Z", images=images, migration_head="20261128_a", pushed=pushed
            ),
            Release(tag="v2", captured_at="2026-11-29T10:00:00Z", migration_head="20261129_b", pushed=pushed),
        ],
    )


def ids(config, *, pushed: bool, order: str = "before_down") -> list[str]:
    procedure = rollback_procedure(config, release_log(config, pushed=pushed), "v2", "v1", migration_order=order)
    return [s.id for s in procedure.steps]


def test_the_schema_check_and_the_pulls_come_before_maintenance(config):
    steps = ids(config, pushed=True)
    pulls = [s for s in steps if s.startswith(("pull_", "tag_"))]
    assert pulls, steps
    window = steps.index("maintenance_on")
    assert steps.index("migration_check") < window
    assert all(steps.index(p) < window for p in pulls)
    # the preflight checks (image presence included) come first, then the schema comparison
    assert steps[:4] == ["verify_artifacts", "inspect_bundle", "images_available", "migration_check"]


def test_the_destructive_steps_keep_their_order(config):
    steps = ids(config, pushed=True)
    in_window = [
        s
        for s in steps
        if s
        in ("maintenance_on", "migrate_rollback", "compose_down", "restore_bundle", "compose_up", "maintenance_off")
    ]
    assert in_window == [
        "maintenance_on",
        "migrate_rollback",
        "compose_down",
        "restore_bundle",
        "compose_up",
        "maintenance_off",
    ]
    assert steps.index("maintenance_off") < steps.index("verify_ps")


def test_a_tarball_release_loads_its_images_after_the_bundle_is_restored(config):
    steps = ids(config, pushed=False)
    assert not any(s.startswith("pull_") for s in steps)
    assert steps.index("restore_bundle") < steps.index("load_images") < steps.index("compose_up")
    assert steps.index("migration_check") < steps.index("maintenance_on")


def test_after_up_checks_the_schema_with_the_started_target(config):
    steps = ids(config, pushed=True, order="after_up")
    assert steps.index("pull_" + config.services[0].name) < steps.index("maintenance_on")
    assert steps.index("compose_up") < steps.index("migration_check") < steps.index("migrate_rollback")
    assert steps.index("migrate_rollback") < steps.index("maintenance_off")
