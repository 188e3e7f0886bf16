"""On the sandbox: before a migration rollback, the host shows the down SQL and the drops are named."""

from __future__ import annotations

import dataclasses

import pytest

from console.config import load_config
from console.engine.context import StepContext
from console.engine.incident import make_transport
from console.engine.migrations import PLAN_KEY, check_schema, migration_preview

pytestmark = pytest.mark.sandbox


async def test_the_confirmation_shows_the_down_sql_of_each_migration_undone(sandbox_config_path):
    config = load_config(sandbox_config_path)
    commands = dataclasses.replace(config.commands, migration_down_sql=["cat", "/app/migrations/{migration}.down.sql"])
    config = dataclasses.replace(config, commands=commands)
    transport = make_transport(config)
    ctx = StepContext(config, transport, None)
    try:
        # v2 is deployed with its schema: rolling back to v1's head undoes 002 (read-only here).
        result = await check_schema(ctx, "001_init", config.commands.service_command_mode)
    finally:
        await transport.close()
    assert result.ok, result.message
    plan = ctx.state[PLAN_KEY]
    assert plan.undo == ["002_add_booking_notes"] and not plan.down_sql_missing
    assert result.detail["drops"] == ["column bookings.notes (002_add_booking_notes)"]
    preview = migration_preview(ctx)
    assert "DROPS DATA: column bookings.notes" in preview
    assert "ALTER TABLE bookings DROP COLUMN IF EXISTS notes;" in preview
