"""Before any mutating step: prove the release's artifacts on the host are the captured ones.

A hash file on the same host proves nothing alone, so each file's sha256 must
agree three ways: computed on the host, listed exactly once in SHA256SUMS.txt
there, and recorded in the local release log at capture time.
"""

from __future__ import annotations

import posixpath

from console.commands import artifacts as art
from console.engine.context import StepContext
from console.engine.procedure import ActionResult


def release_files(artifacts_dir: str, tag: str, use_registry: bool) -> list[str]:
    """The files a restore needs: the bundle always, the image tarball unless pulling by tag."""
    files = [art.bundle_path(artifacts_dir, tag)]
    if not use_registry:
        files.append(art.images_path(artifacts_dir, tag))
    return files


async def verify_release_artifacts(ctx: StepContext, tag: str, recorded: dict[str, str],
                                   use_registry: bool) -> ActionResult:
    target = ctx.config.target
    paths = release_files(target.artifacts_dir, tag, use_registry)
    names = [posixpath.basename(p) for p in paths]
    listed_result = await ctx.run(art.read_sha256sums(target.artifacts_dir), timeout=60)
    if not listed_result.ok:
        return ActionResult(False, f"cannot read {art.sha256sums_path(target.artifacts_dir)} on the host: "
                                   f"{listed_result.stderr.strip() or listed_result.exit_status}")
    listed = art.parse_sha256sums(listed_result.stdout)
    computed_result = await ctx.run(art.sha256sum(paths), timeout=600)
    computed = art.parse_sha256sums(computed_result.stdout)
    problems = []
    for name in names:
        if name not in computed:
            problems.append(f"{name} is missing on the host")
            continue
        problem = art.checksum_problem(name, listed, computed)
        if problem:
            problems.append(problem)
        expected = recorded.get(name)
        if expected is None:
            problems.append(f"{name} has no sha256 recorded in the release log for {tag}")
        elif computed[name][-1] != expected:
            problems.append(f"{name} has sha256 {computed[name][-1]}, the release log recorded {expected} at capture")
    detail = {"files": {n: (computed.get(n) or [None])[-1] for n in names}}
    for name, digest in detail["files"].items():
        ctx.record("artifact", tag=tag, file=name, sha256=digest, verified=not problems, source="host",
                   on=ctx.host)
    if problems:
        return ActionResult(False, "artifact check failed, nothing was changed: " + "; ".join(problems), detail)
    return ActionResult(True, f"{', '.join(names)} match SHA256SUMS.txt and the release log", detail)


async def verify_bundle_members(ctx: StepContext, tag: str) -> ActionResult:
    """Refuse a bundle holding absolute paths, ``..`` or links before extracting it."""
    result = await ctx.run(art.list_bundle(ctx.config.target.artifacts_dir, tag), timeout=120)
    if not result.ok:
        return ActionResult(False, f"cannot list the bundle: {result.stderr.strip() or result.exit_status}")
    members = art.parse_bundle_listing(result.stdout)
    if not members:
        return ActionResult(False, "the bundle is empty or could not be read")
    problems = art.unsafe_members(members)
    if problems:
        return ActionResult(False, "unsafe bundle refused: " + "; ".join(problems[:5]))
    names = {m.name.lstrip("./") for m in members}
    for compose in ctx.config.capture.compose_files or (ctx.config.capture.compose_file,):
        if compose not in names:
            return ActionResult(False, f"the bundle holds no {compose}")
    return ActionResult(True, f"{len(members)} members, all inside the project directory")
