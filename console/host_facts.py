"""What the console asks the host once per run: its compose flavour and its architecture.

One cheap command at connect time (:func:`probe_argv`), cached per target for
the life of the process: which of ``docker compose`` (v2) and ``docker-compose``
(v1) exists, and ``uname -m``. v2 is preferred when both do; the config's
``compose_command`` is an explicit override and stops the flavour question.
The architecture gives ``capture --build`` its ``--platform``: an arm64
laptop must build images an amd64 VPS can run.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.commands.base import sh

V2, V1 = "docker compose", "docker-compose"
AUTO = "auto"

# Each line is "key=value"; nothing the host prints beyond these lines is read.
_PROBE = (
    "docker compose version >/dev/null 2>&1 && echo compose=v2; "
    "command -v docker-compose >/dev/null 2>&1 && echo compose=v1; "
    'echo "arch=$(uname -m)"'
)

# uname -m -> the docker platform an image for that machine is built for
_PLATFORMS = {
    "x86_64": "linux/amd64",
    "amd64": "linux/amd64",
    "aarch64": "linux/arm64",
    "arm64": "linux/arm64",
    "armv7l": "linux/arm/v7",
    "armv6l": "linux/arm/v6",
    "ppc64le": "linux/ppc64le",
    "s390x": "linux/s390x",
    "riscv64": "linux/riscv64",
}


@dataclass(frozen=True)
class HostFacts:
    flavours: tuple[str, ...]  # compose flavours present, v2 first
    machine: str | None  # uname -m

    @property
    def compose(self) -> str | None:
        return self.flavours[0] if self.flavours else None

    @property
    def platform(self) -> str | None:
        return platform_for(self.machine)


# Per host (not per project): staging on the same machine has the same docker.
_cache: dict[tuple[str, int, str], HostFacts] = {}


def probe_argv() -> list[str]:
    return sh(_PROBE)


def parse_probe(stdout: str) -> HostFacts:
    flavours, machine = [], None
    for line in stdout.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "compose" and value in ("v2", "v1"):
            flavour = V2 if value == "v2" else V1
            if flavour not in flavours:
                flavours.append(flavour)
        elif key == "arch" and value.strip():
            machine = value.strip()[:32]
    flavours.sort(key=lambda f: f != V2)
    return HostFacts(tuple(flavours), machine)


def platform_for(machine: str | None) -> str | None:
    return _PLATFORMS.get((machine or "").lower())


def _key(target) -> tuple[str, int, str]:
    return (target.host, target.port, target.user)


def cached(target) -> HostFacts | None:
    return _cache.get(_key(target))


def remember(target, facts: HostFacts) -> None:
    _cache[_key(target)] = facts


def forget_all() -> None:
    _cache.clear()


async def probe_host(transport, target) -> HostFacts | None:
    """Ask the host once (cached per target); ``None`` when it could not answer."""
    facts = cached(target)
    if facts is not None:
        return facts
    result = await transport.run(probe_argv(), timeout=30, capture=True)
    if not result.ok:
        return None
    facts = parse_probe(result.stdout)
    remember(target, facts)
    return facts


def flavour_for(target) -> str:
    """The compose flavour to build commands with: the configured one, else what the host
    has (v2 when both), else v2 before the host has been asked."""
    configured = getattr(target, "compose_command", AUTO)
    if configured in (V1, V2):
        return configured
    facts = cached(target)
    return (facts.compose if facts and facts.compose else None) or V2


def describe_flavour(target) -> str:
    """For dry runs and logs: the flavour and where it came from."""
    configured = getattr(target, "compose_command", AUTO)
    if configured in (V1, V2):
        return f"{configured} (compose_command in the config)"
    facts = cached(target)
    if facts is None:
        return f"{V2} (not yet detected on the host: v2 assumed)"
    if not facts.flavours:
        return f"{V2} (the host has neither docker compose nor docker-compose on PATH)"
    present = " and ".join(facts.flavours)
    return f"{facts.compose} (detected on the host: {present})"
