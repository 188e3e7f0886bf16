"""Verification steps: nothing unchecked may pass, and every step has its own journal id."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from console.config import load_config
from console.engine.context import StepContext
from console.engine.verification import smoke_test_steps, wait_for_health
from console.transport.local import LocalTransport

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


async def test_no_health_checks_is_a_failure_not_a_pass():
    config = dataclasses.replace(load_config(EXAMPLE), health=[])
    result = await wait_for_health(StepContext(config, LocalTransport(), None), "v1", wait=0.1)
    assert not result.ok and "no health checks are configured" in result.message


def test_smoke_tests_for_one_prefix_get_distinct_ids():
    base = load_config(EXAMPLE)
    tests = [
        ["npm", "run", "smoke:test"],
        ["npm", "run", "smoke:booking"],
        ["npm", "run", "smoke:test", "--prefix", "frontend"],
    ]
    config = dataclasses.replace(base, commands=dataclasses.replace(base.commands, smoke_tests=tests))
    assert [s.id for s in smoke_test_steps(config)] == ["smoke_backend", "smoke_backend_2", "smoke_frontend"]
