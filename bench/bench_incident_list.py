"""How long the incident list takes over many long journals: cold, unchanged, one journal grown.

    .venv/bin/python bench/bench_incident_list.py [INCIDENTS] [RECORDS]

The home screen lists incidents on every return to it; an unchanged journal must cost a stat,
a grown one only its new lines (the Journal keeps its folded state).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from console.incident import listing as incidents
from console.incident.journal import Journal


def make_state(root: Path, count: int, length: int) -> None:
    for i in range(count):
        directory = root / "incidents" / f"20261129-{i:06d}-abcd"
        (directory / "outputs").mkdir(parents=True)
        lines = [
            {
                "seq": 1,
                "ts": "2026-11-29T12:00:00.000000Z",
                "type": "incident_opened",
                "incident_id": directory.name,
                "operator": "o",
                "target": "t",
                "project": "p",
                "deployed": "v2",
                "ttr_target_minutes": 15,
            },
            {
                "seq": 2,
                "ts": "2026-11-29T12:00:01.000000Z",
                "type": "procedure_started",
                "procedure": "rollback",
                "from_tag": "v2",
                "to_tag": "v1",
                "dry_run": False,
            },
        ]
        lines += [
            {
                "seq": seq,
                "ts": "2026-11-29T12:00:02.000000Z",
                "type": "health",
                "check": "backend",
                "ok": True,
                "status": 200,
                "version": "v1",
                "latency_ms": 3.2,
            }
            for seq in range(3, length + 1)
        ]
        (directory / "journal.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main(count: int = 40, length: int = 800) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_state(root, count, length)
        cold = timed(lambda: incidents.all_incidents(root))
        unchanged = min(timed(lambda: incidents.all_incidents(root)) for _ in range(5))
        Journal(sorted((root / "incidents").iterdir())[0]).record("note", text="x", by="o")
        grown = timed(lambda: incidents.all_incidents(root))
    print(
        f"{count} incidents x {length} records: cold {cold:.1f} ms, unchanged {unchanged:.1f} ms, "
        f"one journal grown {grown:.1f} ms"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
