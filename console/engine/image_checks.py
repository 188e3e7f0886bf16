"""Before a rollback that pulls: every image of the target release must be on the host or in the
registry. A pruned image found only at `docker pull`, after `compose down`, leaves the stack down.

Images already on the host by their captured digest are noted in the run's state; their pull
steps are skipped, so a registry that is down does not stop a rollback that does not need it.
"""

from __future__ import annotations

from console.commands import artifacts as art
from console.commands.images import image_present, registry_has
from console.engine.context import StepContext
from console.engine.procedure import ActionResult
from console.engine.registry_pull import captured_digest

ON_HOST_KEY = "images_on_host"  # ctx.state: service names whose captured image the host has


def image_ref_for(ctx: StepContext, release, tag: str, service) -> str:
    registry = ctx.config.registry.url
    digest = captured_digest(release, service.image, service.name)
    return art.digest_ref(registry, service.image, digest) if digest else art.image_ref(registry, service.image, tag)


async def check_release_images(ctx: StepContext, release, tag: str) -> ActionResult:
    on_host, in_registry, problems = [], [], []
    for service in ctx.config.services:
        ref = image_ref_for(ctx, release, tag, service)
        local = await ctx.transport.run(image_present(ref), timeout=60, capture=True)
        if local.ok:
            on_host.append(service.name)
            continue
        remote = await ctx.transport.run(registry_has(ctx.config.registry.url, ref), timeout=60, capture=True)
        if remote.ok:
            in_registry.append(service.name)
            continue
        why = (remote.stderr.strip().splitlines() or [f"exit {remote.exit_status}"])[-1][:300]
        problems.append(f"{ref} is not on the host, and the registry cannot give it ({why})")
    ctx.state[ON_HOST_KEY] = set(on_host)
    lines = [f"{name}: on the host" for name in on_host] + [f"{name}: in the registry" for name in in_registry]
    if lines:
        ctx.emit_output("stdout", lines)
    detail = {"on_host": on_host, "in_registry": in_registry}
    if problems:
        return ActionResult(
            False,
            f"{tag}'s images cannot be had, nothing was changed: "
            + "; ".join(problems)
            + ". Bring the registry back or re-push the images, or roll back to another release",
            detail,
        )
    return ActionResult(True, f"every {tag} image is on the host or in the registry", detail)


def skip_pull_if_on_host(service_name: str):
    """A pull step's ``when``: the image is on the host by its captured digest already."""

    def when(ctx: StepContext) -> str | None:
        if service_name in ctx.state.get(ON_HOST_KEY, ()):
            return "the image is on the host already (by its captured digest): no pull needed"
        return None

    return when
