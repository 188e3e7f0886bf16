"""Is there room on the host for the images about to be loaded? Asked before anything changes.

`docker load` unpacks the tarball's layers under dockerd's root dir; running out of space
half-way leaves the stack down (compose down already ran) with half an image. The tarball's
size plus a margin must be free there, or the rollback stops while the old release still runs.
"""

from __future__ import annotations

from console.commands import artifacts as art
from console.commands import diskspace
from console.engine.context import StepContext
from console.engine.procedure import ActionResult
from console.validate import UnsafeValue

MARGIN_BYTES = 256 * 1024 * 1024  # metadata, the layer being unpacked twice, the log files meanwhile
MARGIN_RATIO = 0.10


def space_needed(tar_bytes: int) -> int:
    return tar_bytes + max(MARGIN_BYTES, int(tar_bytes * MARGIN_RATIO))


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MiB"


async def check_space_for_images(ctx: StepContext, tag: str) -> ActionResult:
    tarball = art.images_path(ctx.config.target.artifacts_dir, tag)
    size_result = await ctx.run(diskspace.file_size(tarball), timeout=60)
    if not size_result.ok:
        return ActionResult(
            False, f"cannot read the size of {tarball}: {size_result.stderr.strip() or size_result.exit_status}"
        )
    root_result = await ctx.run(diskspace.docker_root_dir(), timeout=60)
    root = root_result.stdout.strip() if root_result.ok else ""
    if not root:
        return ActionResult(
            False,
            "cannot ask dockerd where it keeps images (docker info): "
            f"{root_result.stderr.strip() or root_result.exit_status}",
        )
    df_result = await ctx.run(diskspace.free_space(root), timeout=60)
    if not df_result.ok:
        return ActionResult(False, f"df {root} failed: {df_result.stderr.strip() or df_result.exit_status}")
    try:
        size = diskspace.parse_size(size_result.stdout)
        free = diskspace.parse_df_available(df_result.stdout)
    except UnsafeValue as exc:
        return ActionResult(False, str(exc))
    needed = space_needed(size)
    detail = {"tarball_bytes": size, "docker_root": root, "free_bytes": free, "needed_bytes": needed}
    if free < needed:
        return ActionResult(
            False,
            f"not enough disk space to load {tag}'s images: {root} has {_mib(free)} free, "
            f"{_mib(needed)} needed ({_mib(size)} tarball + margin); nothing was "
            f"changed. Free space on the host (docker image prune, old logs), then retry",
            detail,
        )
    return ActionResult(True, f"{_mib(free)} free on {root} for a {_mib(size)} image tarball", detail)
