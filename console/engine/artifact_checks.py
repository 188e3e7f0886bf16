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
from console.incident.records import Artifact
from console.transport.streams import TRUNCATED_MARK


def release_files(artifacts_dir: str, tag: str, use_registry: bool) -> list[str]:
    """The files a restore needs: the bundle always, the image tarball unless pulling by tag."""
    files = [art.bundle_path(artifacts_dir, tag)]
    if not use_registry:
        files.append(art.images_path(artifacts_dir, tag))
    return files


async def verify_release_artifacts(
    ctx: StepContext, tag: str, recorded: dict[str, str], use_registry: bool
) -> ActionResult:
    target = ctx.config.target
    paths = release_files(target.artifacts_dir, tag, use_registry)
    names = [posixpath.basename(p) for p in paths]
    listed_result = await ctx.run(art.read_sha256sums(target.artifacts_dir), timeout=60)
    if not listed_result.ok:
        return ActionResult(
            False,
            f"cannot read {art.sha256sums_path(target.artifacts_dir)} on the host: "
            f"{listed_result.stderr.strip() or listed_result.exit_status}",
        )
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
    detail: dict[str, dict[str, str | None]] = {
        "files": {n: computed[n][-1] if computed.get(n) else None for n in names}
    }
    for name, digest in detail["files"].items():
        ctx.record(Artifact(tag=tag, file=name, sha256=digest, verified=not problems, source="host", on=ctx.host))
    if problems:
        return ActionResult(False, "artifact check failed, nothing was changed: " + "; ".join(problems), detail)
    return ActionResult(True, f"{', '.join(names)} match SHA256SUMS.txt and the release log", detail)


SHOWN_LISTING_LINES = 20  # members shown in the step's output; the rest are checked, not shown


class _ListingScan:
    """Checks a ``tar -tv`` listing line by line as it streams in, whatever its length.

    A captured listing keeps only its last MiB: a bundle of many members would hide a
    ``..`` or a link listed first. Here every line is parsed as it arrives and only
    the verdict is kept, so memory does not grow with the bundle.
    """

    def __init__(self, compose_files, forward) -> None:
        self.compose_files = tuple(compose_files)
        self.forward = forward
        self.count = 0
        self.problems: list[str] = []
        self.found: set[str] = set()  # the compose files seen among the members

    def __call__(self, stream: str, lines: list[str]) -> None:
        if stream != "stdout":
            self.forward(stream, lines)
            return
        if self.count < SHOWN_LISTING_LINES:
            self.forward(stream, lines[: SHOWN_LISTING_LINES - self.count])
        for line in lines:
            if TRUNCATED_MARK in line:  # a name too long to read whole is not checked by halves
                self.problems.append(f"listing line too long to check ({len(line)} characters)")
                self.count += 1
                continue
            members = art.parse_bundle_listing(line)
            self.count += len(members)
            self.problems.extend(art.unsafe_members(members))
            self.found.update(m.name.lstrip("./") for m in members if m.name.lstrip("./") in self.compose_files)


async def verify_bundle_members(ctx: StepContext, tag: str) -> ActionResult:
    """Refuse a bundle holding absolute paths, ``..``, links or devices before extracting it.

    The whole listing is checked as it streams (see :class:`_ListingScan`), never a captured tail.
    """
    compose_files = ctx.config.capture.compose_files or (ctx.config.capture.compose_file,)
    scan = _ListingScan(compose_files, ctx.emit_output)
    result = await ctx.transport.run(
        art.list_bundle(ctx.config.target.artifacts_dir, tag), timeout=120, on_output=scan, capture=True
    )
    if not result.ok:
        return ActionResult(False, f"cannot list the bundle: {result.stderr.strip() or result.exit_status}")
    if not scan.count:
        return ActionResult(False, "the bundle is empty or could not be read")
    if scan.problems:
        more = f" (and {len(scan.problems) - 5} more)" if len(scan.problems) > 5 else ""
        return ActionResult(False, "unsafe bundle refused: " + "; ".join(scan.problems[:5]) + more)
    for compose in compose_files:
        if compose not in scan.found:
            return ActionResult(False, f"the bundle holds no {compose}")
    return ActionResult(True, f"{scan.count} members, all inside the project directory")
