"""On the sandbox host: a bundle of thousands of members whose bad member is listed first is refused."""

from __future__ import annotations

import uuid

import pytest

from console.config import load_config
from console.engine.artifact_checks import verify_bundle_members
from console.engine.context import StepContext
from console.engine.incident import make_transport
from tests.conftest import host
from tests.test_bundle_listing import bad_members, write_big_bundle

pytestmark = pytest.mark.sandbox


@pytest.mark.parametrize("kind", ["dotdot", "symlink"])
async def test_the_host_listing_of_a_big_bundle_is_checked_whole(sandbox_config_path, tmp_path, kind):
    config = load_config(sandbox_config_path)
    tag = f"bigbad-{uuid.uuid4().hex[:8]}"
    bundle = write_big_bundle(tmp_path / f"{tag}-compose.tar.gz", bad_members()[kind])
    transport = make_transport(config)
    remote = f"{config.target.artifacts_dir}/{bundle.name}"
    try:
        await transport.sftp_put(bundle, remote)
        result = await verify_bundle_members(StepContext(config, transport, None), tag)
        assert not result.ok and "unsafe bundle refused" in result.message, result.message
    finally:
        host(config, f"rm -f {remote}")
        await transport.close()
