"""Service logs (``docker compose logs -t``) parsed into a bounded buffer.

The runbook reads ``docker-compose logs --tail=50`` after a rollback; the
console follows them live, so a crash-looping release can print millions of
lines. Everything here is batch-first: a batch of raw lines is joined once and
parsed by a single regex pass in C, lines longer than :data:`MAX_LINE_CHARS`
are cut *before* any regex sees them (a 10 MB minified-JSON line must not freeze
the console), and the buffer forgets its oldest lines so memory stays bounded.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

MAX_LINE_CHARS = 4096
DEFAULT_MAX_LINES = 100_000

# CSI and OSC sequences, lone escapes, and control characters other than tab and
# newline: none of them may reach the terminal through a log line.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?|[\x00-\x08\x0b-\x1f\x7f]")
# v1: "mr-dj_mr-dj-backend_1  | 2026-01-02T03:04:05.123456789Z text"
# v2: "mr-dj-backend-1  | 2026-01-02T03:04:05.123456789Z text"
# Possessive quantifiers: a line that is not of this shape fails fast instead of backtracking.
_LINE = re.compile(
    r"^(?:([A-Za-z0-9][\w.-]*+) *+\| ?)?"
    r"(?:(\d{4}-\d\d-\d\dT[\d:.]++(?:Z|[+-]\d\d:?\d\d)) )?"
    r"(.*)$", re.MULTILINE)
_first, _second, _third = itemgetter(0), itemgetter(1), itemgetter(2)
_REPLICA_V1 = re.compile(r"^(.+)_(\d+)$")
_REPLICA_V2 = re.compile(r"^(.+)-(\d+)$")


class LogLine(NamedTuple):
    service: str      # compose service name, "" for lines without a prefix
    timestamp: str    # RFC 3339 as docker prints it, "" without ``-t``
    text: str


def truncate(line: str, limit: int = MAX_LINE_CHARS) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]} …[+{len(line) - limit} chars]"


class LogParser:
    """Turns raw ``docker compose logs`` lines into :class:`LogLine` tuples.

    ``project`` and ``services`` (from the config) let the container prefix be
    mapped back to the service name even when the service name itself contains
    the project name (``mr-dj-backend`` in project ``mr-dj``).
    """

    def __init__(self, project: str | None = None, services: Collection[str] = ()) -> None:
        self.project = project
        self.services = frozenset(services)
        self._service_of: dict[str, str] = {"": ""}   # container prefix -> service, few distinct

    def service_name(self, prefix: str) -> str:
        name = self._service_of.get(prefix)
        if name is None:
            name = self._service_of[prefix] = self._resolve(prefix)
        return name

    def _resolve(self, prefix: str) -> str:
        if prefix in self.services:
            return prefix
        candidates = []
        for replica in (_REPLICA_V1, _REPLICA_V2):
            m = replica.match(prefix)
            if m:
                candidates.append(m.group(1))
        for base in candidates:
            for sep in ("_", "-"):
                if self.project and base.startswith(self.project + sep):
                    candidates.append(base[len(self.project) + 1:])
        for name in candidates:
            if name in self.services:
                return name
        # Unknown service: v1 names are project_service_N, v2 names are service-N.
        m = _REPLICA_V1.match(prefix)
        if m:
            base = m.group(1)
            if self.project and base.startswith(self.project + "_"):
                return base[len(self.project) + 1:]
            return base.split("_", 1)[1] if "_" in base else base
        m = _REPLICA_V2.match(prefix)
        return m.group(1) if m else prefix

    def columns(self, raw_lines: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
        """Parse a batch into ``(services, timestamps, texts)``, the buffer's storage form.

        Per-line work stays in C (``findall``, ``map``, ``itemgetter``): a Python
        loop body per line, or a tuple kept per line for the garbage collector to
        walk, would cap ingest well below a million lines a second.
        Newlines inside an item split it into several lines.
        """
        if not raw_lines:
            return [], [], []
        if max(map(len, raw_lines)) > MAX_LINE_CHARS:
            raw_lines = [truncate(line) for line in raw_lines]
        joined = "\n".join(raw_lines)
        if not all(map(str.isprintable, raw_lines)):
            joined = _CONTROL.sub("", joined.replace("\t", "    "))
        found = _LINE.findall(joined)
        service_of = self._service_of
        for prefix in set(map(_first, found)) - service_of.keys():
            self.service_name(prefix)
        return (list(map(service_of.__getitem__, map(_first, found))),
                list(map(_second, found)), list(map(_third, found)))

    def parse(self, raw_lines: Sequence[str]) -> list[LogLine]:
        services, timestamps, texts = self.columns(raw_lines)
        return list(map(LogLine, services, timestamps, texts))

    def parse_line(self, raw: str) -> LogLine:
        return self.parse([raw])[0]


def parse_lines(raw_lines: Sequence[str], project: str | None = None,
                services: Collection[str] = ()) -> list[LogLine]:
    return LogParser(project, services).parse(raw_lines)


class LogBuffer:
    """The newest ``max_lines`` lines, each with a sequence number that only grows.

    The first line ever added has sequence 0; when old lines are dropped the
    survivors keep their numbers, so a view holding sequence numbers stays valid.
    Lines are stored as three columns of strings (service, timestamp, text): no
    per-line tuple for the garbage collector to track, and a quarter less memory.
    Columns are trimmed in chunks (one C-level ``del`` per quarter of the
    capacity) rather than per line, which keeps ``extend`` fast and indexing O(1).
    """

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES) -> None:
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self.max_lines = max_lines
        self._services: list[str] = []
        self._timestamps: list[str] = []
        self._texts: list[str] = []
        self._start = 0          # index in the columns of the oldest kept line
        self._dropped = 0        # lines removed from the columns so far
        self._slack = max(1, max_lines // 4)

    def __len__(self) -> int:
        return len(self._texts) - self._start

    @property
    def first_seq(self) -> int:
        return self._dropped + self._start

    @property
    def end_seq(self) -> int:
        """One past the newest sequence number (the total number of lines ever added)."""
        return self._dropped + len(self._texts)

    @property
    def capacity_used(self) -> int:
        """Lines held, kept plus not yet trimmed; never above 1.25 x max_lines."""
        return len(self._texts)

    def extend(self, lines: Iterable[LogLine]) -> int:
        """Append a batch of lines; returns the sequence number of its first line."""
        lines = list(lines)
        return self.extend_columns([l.service for l in lines], [l.timestamp for l in lines],
                                   [l.text for l in lines])

    def extend_columns(self, services: list[str], timestamps: list[str], texts: list[str]) -> int:
        """Append a batch in column form (:meth:`LogParser.columns`); returns its first sequence."""
        if not len(services) == len(timestamps) == len(texts):
            raise ValueError("columns differ in length")
        first = self.end_seq
        self._services.extend(services)
        self._timestamps.extend(timestamps)
        self._texts.extend(texts)
        excess = len(self._texts) - self.max_lines
        if excess > 0:
            self._start = excess
            if self._start >= self._slack:
                for column in (self._services, self._timestamps, self._texts):
                    del column[:self._start]
                self._dropped += self._start
                self._start = 0
        return first

    def skip(self, count: int) -> None:
        """Account for ``count`` lines that arrived but were dropped before being stored.

        Only used when a burst larger than the whole buffer arrives at once: then
        every line held now is older than the burst and would be dropped too.
        """
        self._dropped = self.end_seq + count
        self._services, self._timestamps, self._texts = [], [], []
        self._start = 0

    def clear(self) -> None:
        self._dropped = self.end_seq
        self._services, self._timestamps, self._texts = [], [], []
        self._start = 0

    def _index(self, seq: int) -> int:
        index = seq - self._dropped
        if seq < self.first_seq or index >= len(self._texts):
            raise IndexError(f"sequence {seq} is not in the buffer")
        return index

    def get(self, seq: int) -> LogLine:
        i = self._index(seq)
        return LogLine(self._services[i], self._timestamps[i], self._texts[i])

    def text(self, seq: int) -> str:
        return self._texts[self._index(seq)]

    def service(self, seq: int) -> str:
        return self._services[self._index(seq)]

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self.first_seq <= seq < self.end_seq

    def since(self, seq: int) -> Iterator[tuple[int, LogLine]]:
        """``(seq, line)`` for every kept line with sequence >= ``seq``."""
        seq = max(seq, self.first_seq)
        i = seq - self._dropped
        lines = map(LogLine, self._services[i:], self._timestamps[i:], self._texts[i:])
        return zip(range(seq, self.end_seq), lines)

    def __iter__(self) -> Iterator[tuple[int, LogLine]]:
        return self.since(self.first_seq)

    def select(self, keep: LogFilter, since: int) -> list[int]:
        """Sequence numbers of kept lines from ``since`` on that pass ``keep``."""
        since = max(since, self.first_seq)
        i = since - self._dropped
        seqs = range(since, self.end_seq)
        if keep.services is not None:
            wanted = keep.services
            seqs = [seq for seq, service in zip(seqs, self._services[i:]) if service in wanted]
            if not keep.text:
                return seqs
            texts = self._texts
            offset = self._dropped
            candidates: Iterable[tuple[int, str]] = ((seq, texts[seq - offset]) for seq in seqs)
        else:
            candidates = zip(seqs, self._texts[i:])
        if not keep.text:
            return list(seqs)
        matches = keep.text.matches
        return [seq for seq, text in candidates if matches(text)]

    def services(self) -> list[str]:
        """Distinct services among the kept lines, in order of first appearance."""
        return [s for s in dict.fromkeys(self._services[self._start:]) if s]


class TextMatcher:
    """Case-insensitive substring, or a regex (also case-insensitive)."""

    def __init__(self, pattern: str, regex: bool = False) -> None:
        self.pattern = pattern
        self.regex = regex
        self._needle = pattern.lower()
        # re.error (a ValueError) on a bad regex: the caller shows it to the operator.
        self._compiled = re.compile(pattern if regex else re.escape(pattern), re.IGNORECASE)

    def __bool__(self) -> bool:
        return bool(self.pattern)

    def matches(self, text: str) -> bool:
        if not self.regex:
            return self._needle in text.lower()
        return self._compiled.search(text) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._compiled.finditer(text) if m.end() > m.start()]


@dataclass(frozen=True)
class LogFilter:
    services: frozenset[str] | None = None    # None: every service
    text: TextMatcher | None = None

    @property
    def active(self) -> bool:
        return self.services is not None or bool(self.text)

    def accepts(self, line: LogLine) -> bool:
        if self.services is not None and line.service not in self.services:
            return False
        return not self.text or self.text.matches(line.text)


class LogView:
    """The rows a log pane shows: the sequence numbers of the lines that pass a filter.

    Kept up to date incrementally: :meth:`sync` filters only the lines added since
    the last call and forgets rows whose lines the buffer has dropped.
    """

    def __init__(self, buffer: LogBuffer, filter: LogFilter | None = None) -> None:
        self.buffer = buffer
        self.filter = filter or LogFilter()
        self._seqs: list[int] | range = range(0)
        self._synced_to = buffer.first_seq
        self.rebuild()

    def __len__(self) -> int:
        return len(self._seqs)

    def rebuild(self, filter: LogFilter | None = None) -> None:
        if filter is not None:
            self.filter = filter
        self._seqs = range(self.buffer.first_seq, self.buffer.first_seq)
        self._synced_to = self.buffer.first_seq
        self.sync()

    def sync(self) -> tuple[int, int]:
        """Catch up with the buffer; returns ``(rows_added, rows_dropped_from_top)``."""
        buffer = self.buffer
        dropped = 0
        if self._seqs and self._seqs[0] < buffer.first_seq:
            dropped = bisect_left(self._seqs, buffer.first_seq)
        start = max(self._synced_to, buffer.first_seq)
        end = buffer.end_seq
        if not self.filter.active:
            # Unfiltered, the rows are a contiguous range: no per-line work at all.
            before = len(self._seqs) - dropped
            self._seqs = range(buffer.first_seq, end)
            added = len(self._seqs) - before
        else:
            seqs = self._seqs if isinstance(self._seqs, list) else list(self._seqs)
            if dropped:
                del seqs[:dropped]
            new = buffer.select(self.filter, start)
            seqs.extend(new)
            self._seqs = seqs
            added = len(new)
        self._synced_to = end
        return added, dropped

    def seq_at(self, row: int) -> int:
        return self._seqs[row]

    def line_at(self, row: int) -> LogLine:
        return self.buffer.get(self._seqs[row])

    def row_of(self, seq: int) -> int | None:
        row = bisect_left(self._seqs, seq)
        return row if row < len(self._seqs) and self._seqs[row] == seq else None

    def search(self, matcher: TextMatcher, start_row: int, backward: bool = False,
               wrap: bool = True) -> int | None:
        """The next row after (or before) ``start_row`` whose text matches."""
        n = len(self._seqs)
        if n == 0 or not matcher:
            return None
        if backward:
            order: Iterable[int] = range(min(start_row, n) - 1, -1, -1)
            rest: Iterable[int] = range(n - 1, min(start_row, n) - 1, -1)
        else:
            order = range(max(start_row + 1, 0), n)
            rest = range(0, min(max(start_row + 1, 0), n))
        text = self.buffer.text
        seqs = self._seqs
        for rows in (order, rest) if wrap else (order,):
            for row in rows:
                if matcher.matches(text(seqs[row])):
                    return row
        return None


__all__ = ["DEFAULT_MAX_LINES", "MAX_LINE_CHARS", "LogBuffer", "LogFilter", "LogLine", "LogParser",
           "LogView", "TextMatcher", "parse_lines", "truncate"]
