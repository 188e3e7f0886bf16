"""Steps that run at once (``Step.together``, console.engine.together), run locally.

Each test controls when a step ends (an asyncio gate, or two shell commands that each wait for
the other to have started), so running the group one step after another would fail the test
instead of passing slowly.
"""

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from console.cli.output import EventPrinter
from console.engine.context import StepContext
from console.engine.events import StepFailed, StepFinished, StepOutput, StepSkipped, StepStarted, WouldRun
from console.engine.procedure import ActionResult, Procedure, Step
from console.engine.runner import Choice, StepEngine
from console.engine.together import TogetherRefused, runs
from console.failures import FailureReason
from console.incident.journal import Journal
from console.transport.local import LocalTransport
from tests._engine_support import ScriptedDecider, local_config
from tests._records_support import last_record
from tests._waiting import wait_for


@pytest.fixture
def config(tmp_path):
    return local_config(tmp_path)


def make_engine(config, steps, decider=None, *, dry_run=False, done_steps=None):
    journal = Journal.create(config.paths.state_dir)
    events = []
    ctx = StepContext(config, LocalTransport(), journal, dry_run=dry_run, operator="tester")
    engine = StepEngine(
        Procedure("rollback", steps, "v2", "v1"),
        ctx,
        decider or ScriptedDecider(),
        done_steps=done_steps,
        listeners=[events.append],
    )
    return engine, journal, events


class Gates:
    """Actions that say when they start and end only when the test opens their gate."""

    def __init__(self):
        self.started: list[str] = []
        self.ended: list[str] = []
        self.cancelled: list[str] = []
        self.gates: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.results: dict[str, list[bool]] = {}  # step id -> outcome per attempt (default: ok)

    def action(self, name: str):
        async def run(ctx) -> ActionResult:
            self.started.append(name)
            ctx.emit_output("stdout", [f"{name} began"])
            try:
                await self.gates[name].wait()
            except asyncio.CancelledError:
                self.cancelled.append(name)
                raise
            ctx.emit_output("stdout", [f"{name} ends"])
            self.ended.append(name)
            outcomes = self.results.get(name)
            ok = outcomes.pop(0) if outcomes else True
            return ActionResult(ok, f"{name} {'ok' if ok else 'broke'}")

        return run

    def step(self, name: str, group: str = "g", **fields) -> Step:
        return Step(
            name, name.title(), action=self.action(name), display=name, read_only=True, together=group, **fields
        )

    def open(self, *names: str) -> None:
        for name in names or tuple(self.gates):
            self.gates[name].set()


def kinds(events, cls):
    return [e.step_id for e in events if isinstance(e, cls)]


async def test_a_group_starts_every_step_before_any_ends(config):
    gates = Gates()
    steps = [gates.step("a"), gates.step("b"), gates.step("c"), Step("after", "After", argv=["true"])]
    engine, journal, events = make_engine(config, steps)
    run = asyncio.create_task(engine.run())
    # Run one after another, b would never start while a waits for its gate.
    await wait_for(lambda: gates.started == ["a", "b", "c"], 5, "every step of the group to start")
    assert gates.ended == [] and kinds(events, StepFinished) == []
    assert [s for s, state in engine.statuses.items() if state == "running"] == ["a", "b", "c"]
    gates.open("b")
    await wait_for(lambda: kinds(events, StepFinished) == ["b"], 5, "b to end alone")
    assert "after" not in kinds(events, StepStarted)  # the next step waits for the whole group
    gates.open()
    assert await run == "succeeded"
    assert kinds(events, StepStarted) == ["a", "b", "c", "after"]
    assert [r.step_id for r in journal.records() if r.kind == "step_finished"][-1] == "after"


async def test_commands_of_a_group_run_at_once_on_the_transport(config, tmp_path):
    # each command waits for the other's file: only a concurrent run ends before the timeouts
    one, two = tmp_path / "one", tmp_path / "two"

    def waiting(mine: Path, theirs: Path) -> list[str]:
        return ["sh", "-c", f'touch {mine}; while [ ! -e {theirs} ]; do sleep 0.02; done; echo "{mine.name} done"']

    steps = [
        Step("one", "One", argv=waiting(one, two), read_only=True, together="g", timeout=5),
        Step("two", "Two", argv=waiting(two, one), read_only=True, together="g", timeout=5),
    ]
    engine, journal, events = make_engine(config, steps)
    assert await engine.run() == "succeeded"
    finished = {r.step_id: r for r in journal.records() if r.kind == "step_finished"}
    assert (journal.directory / finished["one"].output).read_text() == "one done\n"
    assert (journal.directory / finished["two"].output).read_text() == "two done\n"


async def test_each_step_of_a_group_keeps_its_own_output(config):
    gates = Gates()
    engine, journal, events = make_engine(config, [gates.step("a"), gates.step("b")])
    run = asyncio.create_task(engine.run())
    await wait_for(lambda: len(gates.started) == 2, 5, "both steps to start")
    gates.open("b")  # b ends first: its lines interleave with a's
    await wait_for(lambda: "b" in gates.ended, 5, "b to end")
    gates.open("a")
    assert await run == "succeeded"
    shown = [(e.step_id, line) for e in events if isinstance(e, StepOutput) for line in e.lines]
    assert all(line.startswith(step_id) for step_id, line in shown)
    assert [line for _, line in shown] == ["a began", "b began", "b ends", "b ok", "a ends", "a ok"]
    finished = {r.step_id: r for r in journal.records() if r.kind == "step_finished"}
    assert (journal.directory / finished["a"].output).read_text() == "a began\na ends\na ok\n"
    assert (journal.directory / finished["b"].output).read_text() == "b began\nb ends\nb ok\n"


async def test_failures_are_decided_in_step_order_after_the_group_and_a_retry_reruns_that_step_alone(config):
    gates = Gates()
    gates.results = {"a": [False, True], "b": [False]}
    decider = ScriptedDecider(choices=[Choice("retry"), Choice("skip", "checked by hand")])
    steps = [gates.step("a"), gates.step("b"), gates.step("c"), Step("after", "After", argv=["true"])]
    engine, journal, events = make_engine(config, steps, decider)
    run = asyncio.create_task(engine.run())
    await wait_for(lambda: len(gates.started) == 3, 5, "the group to start")
    gates.open("b", "c")
    await wait_for(lambda: kinds(events, StepFailed) == ["b"], 5, "b to fail")
    assert decider.failures == []  # nobody is asked while a still runs
    gates.open("a")
    assert await run == "succeeded"
    assert decider.failures == [("a", FailureReason.PRECONDITION), ("b", FailureReason.PRECONDITION)]
    assert gates.started == ["a", "b", "c", "a"]  # the retry: a alone, b is not run again
    assert kinds(events, StepFinished) == ["c", "a", "after"]
    skipped = last_record(journal, "step_skipped")
    assert (skipped.step_id, skipped.reason, skipped.by) == ("b", "checked by hand", "tester")
    choices = [(r.step_id, r.action) for r in journal.records() if r.kind == "step_choice"]
    assert choices == [("a", "retry"), ("b", "skip")]


async def test_an_abort_after_a_failure_in_a_group_fails_the_procedure_there(config):
    gates = Gates()
    gates.results = {"a": [False], "b": [False]}
    gates.open("a", "b")
    decider = ScriptedDecider(choices=[Choice("abort")])
    steps = [gates.step("a"), gates.step("b"), Step("after", "After", argv=["true"])]
    engine, journal, events = make_engine(config, steps, decider)
    assert await engine.run() == "failed"
    assert decider.failures == [("a", FailureReason.PRECONDITION)]  # b's failure is journaled, not asked
    assert kinds(events, StepFailed) == ["a", "b"]
    assert "after" not in kinds(events, StepStarted)
    assert last_record(journal, "procedure_finished").outcome == "failed"


async def test_a_skip_without_a_reason_in_a_group_stops_the_run(config):
    gates = Gates()
    gates.results = {"a": [False]}
    gates.open("a", "b")
    decider = ScriptedDecider(choices=[Choice("skip", " ")])
    engine, _, events = make_engine(config, [gates.step("a"), gates.step("b")], decider)
    assert await engine.run() == "failed"
    assert kinds(events, StepFinished) == ["b"]


async def test_when_skips_and_steps_done_before_a_resume_leave_the_others_running_together(config):
    gates = Gates()
    steps = [
        gates.step("a"),
        gates.step("b", when=lambda ctx: "not on this host"),
        gates.step("c"),
        gates.step("d"),
    ]
    engine, journal, events = make_engine(config, steps, done_steps={"d"})
    run = asyncio.create_task(engine.run())
    await wait_for(lambda: gates.started == ["a", "c"], 5, "a and c to start together")
    gates.open()
    assert await run == "succeeded"
    assert gates.started == ["a", "c"]
    reasons = {e.step_id: e.reason for e in events if isinstance(e, StepSkipped)}
    assert reasons == {"b": "not on this host", "d": "already done before the resume"}
    assert engine.statuses == {"a": "done", "b": "skipped", "c": "done", "d": "done"}


async def test_a_dry_run_runs_a_groups_preflight_checks_together_and_only_shows_the_others(config):
    gates = Gates()
    steps = [gates.step("a", preflight=True), gates.step("b", preflight=True), gates.step("c")]
    engine, journal, events = make_engine(config, steps, dry_run=True)
    run = asyncio.create_task(engine.run())
    await wait_for(lambda: gates.started == ["a", "b"], 5, "both preflight checks to start")
    gates.open()
    assert await run == "succeeded"
    assert kinds(events, WouldRun) == ["c"] and "c" not in gates.started
    assert kinds(events, StepFinished) == ["a", "b"]
    assert not [r for r in journal.records() if r.kind.startswith("step_")]  # a dry run journals no step


async def test_cancelling_a_group_cancels_every_running_step_and_journals_the_interruption(config):
    gates = Gates()
    gates.open("c")
    engine, journal, events = make_engine(config, [gates.step("a"), gates.step("b"), gates.step("c")])
    run = asyncio.create_task(engine.run())
    await wait_for(lambda: kinds(events, StepFinished) == ["c"] and len(gates.started) == 3, 5, "a and b running")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert sorted(gates.cancelled) == ["a", "b"]
    assert last_record(journal, "procedure_finished") is None
    interrupted = last_record(journal, "procedure_interrupted")
    assert (interrupted.step_id, interrupted.running_together) == ("a", ["a", "b"])
    from console.incident.report import render_report

    assert "interrupted at steps a, b (running at once)" in render_report(journal.state)


async def test_cancelling_a_group_of_commands_kills_them_all(config, tmp_path):
    steps = [
        Step(f"s{n}", f"S{n}", argv=["sh", "-c", f"touch {tmp_path}/s{n}; sleep 30"], read_only=True, together="g")
        for n in (1, 2)
    ]
    engine, journal, events = make_engine(config, steps)
    run = asyncio.create_task(engine.run())
    await wait_for(lambda: (tmp_path / "s1").exists() and (tmp_path / "s2").exists(), 5, "both commands to run")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 10)  # killed, not waited out (30 s)
    assert last_record(journal, "procedure_interrupted").step_id == "s1"


async def test_a_bug_while_a_group_runs_still_ends_the_run_in_the_journal_after_the_others_end(config):
    gates = Gates()
    engine, journal, events = make_engine(config, [gates.step("a"), gates.step("b")])

    def broken(event):
        if isinstance(event, StepStarted) and event.step_id == "b":
            gates.open("a")
            raise RuntimeError("a bug in a listener")

    engine.listeners.append(broken)
    with pytest.raises(RuntimeError, match="a bug in a listener"):
        await engine.run()
    assert gates.ended == ["a"]  # a was not left running
    finished = last_record(journal, "procedure_finished")
    assert finished.outcome == "failed" and finished.error == "RuntimeError: a bug in a listener"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"read_only": True, "mutating": True}, "mutating"),
        ({"read_only": True, "destructive": True}, "destructive"),
        ({}, "not read_only"),
    ],
)
def test_a_step_that_changes_the_host_is_refused_in_a_group(fields, why):
    with pytest.raises(TogetherRefused, match=f"'down'.*group 'g'.*it is {why}"):
        Step("down", "Down", argv=["true"], together="g", **fields)


def test_the_engine_refuses_a_group_member_made_mutating_after_construction(config):
    step = Step("pull", "Pull", argv=["true"], read_only=True, together="g")
    step.mutating = True
    with pytest.raises(TogetherRefused, match="'pull'.*mutating"):
        make_engine(config, [step, Step("other", "Other", argv=["true"], read_only=True, together="g")])


def test_a_group_is_consecutive_steps_with_one_key_on_one_host():
    def step(name, group="", host="target"):
        return Step(name, name, argv=["true"], read_only=True, together=group, host=host)

    steps = [
        step("a", "g"),
        step("b", "g"),
        step("c"),
        step("d", "g"),
        step("e", "g", host="web2"),
        step("f", "h", host="web2"),
    ]
    assert [[s.id for s in run] for run in runs(steps)] == [["a", "b"], ["c"], ["d"], ["e"], ["f"]]


def test_the_cli_names_the_step_of_each_line_while_steps_overlap():
    printer = EventPrinter(as_json=False)
    seq = [
        StepStarted("alone", "Alone", "true"),
        StepOutput("alone", "stdout", ["one"]),
        StepFinished("alone", 0, 0.1),
        StepStarted("a", "A", "x"),
        StepStarted("b", "B", "y"),
        StepOutput("a", "stdout", ["from a"]),
        StepOutput("b", "stderr", ["from b"]),
        StepFinished("b", 0, 0.2),
        StepOutput("a", "stdout", ["a again"]),
        StepFailed("a", FailureReason.NON_ZERO_EXIT, "exited with 1", 1, 0.3),
        StepStarted("a", "A", "x"),  # the retry runs alone
        StepOutput("a", "stdout", ["retried"]),
    ]
    lines = "\n".join(filter(None, (printer.human(e) for e in seq))).splitlines()
    assert lines == [
        "-> alone: Alone",
        "   $ true",
        "   | one",
        "   ok (0.1s)",
        "-> a: A",
        "   $ x",
        "-> b: B",
        "   $ y",
        "   [a] | from a",
        "   [b] ! from b",
        "   [b] ok (0.2s)",
        "   [a] | a again",
        "   [a] FAILED [non zero exit, exit 1] exited with 1",
        "-> a: A",
        "   $ x",
        "   | retried",
    ]


def _groups(procedure) -> list[list[str]]:
    return [[s.id for s in run] for run in runs(procedure.steps) if len(run) > 1]


@pytest.mark.parametrize("pushed", [True, False])
def test_the_rollback_runs_its_preflight_and_its_verification_in_groups(config, pushed):
    from console.engine.rollback import rollback_procedure
    from test_rollback_order import release_log

    procedure = rollback_procedure(config, release_log(config, pushed=pushed), "v2", "v1")
    image_check = "images_available" if pushed else "disk_space"
    smoke = [s.id for s in procedure.steps if s.id.startswith("smoke_")]
    assert len(smoke) == 2, smoke
    assert _groups(procedure) == [
        ["verify_artifacts", "inspect_bundle", image_check, "migration_check"],
        ["verify_ps", "verify_logs", "verify_health"],
        smoke,  # after health: a smoke test never runs before health is green
    ]
    ids = [s.id for s in procedure.steps]
    assert ids.index("verify_health") < ids.index(smoke[0])


def test_after_up_the_schema_check_runs_alone_after_the_stack_starts(config):
    from console.engine.rollback import rollback_procedure
    from test_rollback_order import release_log

    procedure = rollback_procedure(config, release_log(config, pushed=True), "v2", "v1", migration_order="after_up")
    assert _groups(procedure)[0] == ["verify_artifacts", "inspect_bundle", "images_available"]
    assert procedure.step("migration_check").together == ""


def test_a_fleet_groups_each_hosts_steps_apart(tmp_path):
    from console.engine.fleet_procedure import fleet_procedure
    from console.engine.verification import verify_procedure
    from test_engine_fleet import fleet_config

    procedure = fleet_procedure(fleet_config(tmp_path), lambda c: verify_procedure(c, "v1"))
    groups = _groups(procedure)
    assert all(len({g.split(":")[0] for g in group}) == 1 for group in groups), groups
    assert ["web1:verify_ps", "web1:verify_logs", "web1:verify_health"] in groups


def test_a_fleet_runs_each_hosts_groups_at_once_through_its_host_engine(tmp_path):
    from console.engine.fleet import FleetEngine
    from console.engine.fleet_procedure import fleet_procedure
    from test_engine_fleet import Decider, Host, fleet_config

    config = fleet_config(tmp_path)
    started: set[tuple[str, str]] = set()

    def waits_for(name: str, other: str):
        async def action(ctx) -> ActionResult:
            started.add((ctx.host, name))
            try:  # ends only once its partner on the same host has started: run one by one, it fails
                await wait_for(lambda: (ctx.host, other) in started, 3, f"{other} on {ctx.host}")
            except AssertionError as exc:
                return ActionResult(False, str(exc))
            return ActionResult(True, f"{name} saw {other}")

        return action

    def single(c) -> Procedure:
        def check(step_id, other, group, **fields):
            action = waits_for(step_id, other)
            return Step(step_id, step_id, action=action, display=step_id, read_only=True, together=group, **fields)

        return Procedure(
            "rollback",
            [
                check("verify_artifacts", "inspect_bundle", "preflight", preflight=True),
                check("inspect_bundle", "verify_artifacts", "preflight", preflight=True),
                Step("compose_up", "Up", argv=["up"], mutating=True, destructive=True),
                check("verify_ps", "verify_logs", "verify"),
                check("verify_logs", "verify_ps", "verify"),
            ],
            "v2",
            "v1",
        )

    procedure = fleet_procedure(config, single)
    journal = Journal.create(config.paths.state_dir, "20261129-150000-abcd")
    log: list = []
    links = {h: Host(h, log) for h in config.host_names}
    context = StepContext(config, links["web1"], journal, operator="tester", fleet_transports=links)
    engine = FleetEngine(procedure, context, Decider(), assume_yes=True, done_steps=set(), listeners=[])
    assert asyncio.run(engine.run()) == "succeeded"
    assert len(started) == 4 * len(config.host_names)
    assert all(state == "done" for state in engine.statuses.values()), engine.statuses
