"""Service logs (``docker compose logs -t``) kept raw in a bounded buffer, parsed when looked at.

The runbook reads ``docker-compose logs --tail=50`` after a rollback; the
console follows them live, so a crash-looping release can print millions of
lines. Ingest does nothing per line: :func:`prepare_chunk` makes a stream's raw bytes
safe to keep (control characters and escape sequences stripped, found with one C-level
pass over the bytes) and the buffer keeps each chunk unsplit, forgetting its oldest so
memory stays bounded. A chunk is split when a row of it is looked at, and long lines are
cut then, *before* any regex sees them, so a 10 MB minified-JSON line cannot freeze the
console. (:func:`prepare_lines` does the same for lines that arrive split.)

A line's service, timestamp and text are parsed only when something looks at
it: a row being drawn (cached by sequence number), or a filter or search
scanning the buffer with ``map`` pipelines that keep the per-line work in C
(and :class:`LogView` caches the rows of the last few filters).

A fleet's logs share one buffer: each batch arrives from one host's follower, so the host
is kept per chunk (a chunk never mixes hosts), not per line. Tagging costs nothing per
line, and a host filter keeps or drops whole chunks.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import getitem
from typing import NamedTuple

from console.safetext import has_c1_controls, plain_text

MAX_LINE_CHARS = 4096
DEFAULT_MAX_LINES = 100_000
# Lines alone do not bound memory: 100 000 kept lines of 4 KiB (the cut) would hold ~400 MiB.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
PARSE_CACHE_SIZE = 4096  # parsed lines remembered by sequence number (a few screens' worth)
SPLIT_CACHE_SIZE = 8  # chunks whose lines are remembered split (the rows on screen span one or two)
CACHED_FILTERS = 4  # filtered views LogView keeps to switch back to without a rescan
CHUNK_MIN = 1024  # small batches are merged into the buffer's last chunk until it holds this many

# The bytes that make a batch need more than a split: C0 controls (newline, the separator, and tab,
# which is expanded, included) and DEL. UTF-8 never uses them inside a multi-byte character.
_UNSAFE_BYTES = bytes([*range(0x00, 0x20), 0x7F])
# The head of a line, docker's container prefix and timestamp, both optional; the text follows.
# v1: "mr-dj_mr-dj-backend_1  | 2026-01-02T03:04:05.123456789Z text"
# v2: "mr-dj-backend-1  | 2026-01-02T03:04:05.123456789Z text"
# It always matches (maybe empty). Possessive quantifiers: a line of another shape fails fast.
_HEAD = re.compile(
    r"(?:([A-Za-z0-9][\w.-]*+) *+\| ?)?"
    r"(?:(\d{4}-\d\d-\d\dT[\d:.]++(?:Z|[+-]\d\d:?\d\d)) )?"
)
# Just the container prefix, for service filters; also always matches.
_PREFIX = re.compile(r"(?:([A-Za-z0-9][\w.-]*+) *+\|)?")
_REPLICA_V1 = re.compile(r"^(.+)_(\d+)$")
_REPLICA_V2 = re.compile(r"^(.+)-(\d+)$")
_group, _end = re.Match.group, re.Match.end


class LogLine(NamedTuple):
    service: str  # compose service name, "" for lines without a prefix
    timestamp: str  # RFC 3339 as docker prints it, "" without ``-t``
    text: str
    host: str = ""  # the fleet host that printed it ("" for a single host's logs)


def truncate(line: str, limit: int = MAX_LINE_CHARS) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]} …[+{len(line) - limit} chars]"


def prepare_lines(raw_lines: Iterable[str]) -> list[str] | tuple[str, ...]:
    """Make a batch of raw lines safe to keep: the only per-line work done on ingest.

    Lines longer than :data:`MAX_LINE_CHARS` are cut, escape sequences and control
    characters stripped (tabs become four spaces) and newlines inside an item
    split it into several lines. Each case is found by C-level passes over the
    whole batch (``max(map(len))``, one ``bytes.translate``), so an
    ordinary batch costs a few tens of nanoseconds a line and comes back as is
    (a list or tuple; anything else as a list).
    """
    if not isinstance(raw_lines, (list, tuple)):
        raw_lines = list(raw_lines)
    if not raw_lines:
        return []
    if max(map(len, raw_lines)) > MAX_LINE_CHARS:
        raw_lines = [truncate(line) for line in raw_lines]
    joined = "\n".join(raw_lines)
    data = joined.encode("utf-8", "surrogatepass")
    # One pass: removing the separators we put in is all it may remove from a clean batch.
    # C1 controls (U+009B, the 8-bit CSI) are two UTF-8 bytes starting 0xC2: looked for only then.
    if len(data) - len(data.translate(None, _UNSAFE_BYTES)) != len(raw_lines) - 1 or (
        b"\xc2" in data and has_c1_controls(joined)
    ):
        # Escape sequences and control characters, 7-bit and 8-bit: none may reach the terminal.
        return plain_text(joined.replace("\t", "    ")).split("\n")
    return raw_lines


# Every byte but the C0 controls (newline included) and DEL: deleting these from a chunk
# leaves only its newlines and control bytes, so one C pass both counts the lines and finds
# any control byte (C1 controls are two UTF-8 bytes starting 0xC2, looked for only then).
_TEXT_BYTES = bytes([b for b in range(0x20, 0x100) if b != 0x7F])


def prepare_chunk(data: bytes) -> tuple[str, int]:
    """Raw output bytes, whole lines, made safe to keep unsplit: ``(text, line count)``.

    ``text`` holds the lines each followed by a newline (a missing last one is added), as
    :meth:`LogBuffer.extend_text` keeps them. An ordinary chunk costs two C-level passes
    over its bytes and none per line: one ``bytes.translate`` deleting every byte but
    newlines and control bytes (what is left counts the lines and shows any control
    byte), and decoding. Only a chunk holding control bytes or C1 controls is
    split and cleaned as :func:`prepare_lines` does (escape sequences and controls
    stripped, CR included, tabs become four spaces). Invalid UTF-8 becomes U+FFFD (a
    chunk holds whole lines, so no character is cut at its edge). Long lines are cut when
    the chunk is split (:meth:`LogBuffer._lines`), before any regex sees them.
    """
    if not data:
        return "", 0
    if not data.endswith(b"\n"):
        data += b"\n"
    controls = data.translate(None, _TEXT_BYTES)
    count = controls.count(b"\n")
    text = data.decode("utf-8", "replace")
    if len(controls) == count and (b"\xc2" not in data or not has_c1_controls(text)):
        return text, count
    lines = plain_text(text[:-1].replace("\t", "    ")).split("\n")
    return "".join(line + "\n" for line in lines), len(lines)


def strip_controls(text: str) -> str:
    """``text`` without escape sequences or control characters (tabs become four spaces, newlines stay).

    The one sanitiser for host output on its way to a widget: whatever a remote command
    prints is data, and a control sequence left in it would be obeyed by the terminal.
    """
    return plain_text(text.replace("\t", "    "))


class _ServiceNames(dict):
    """Container prefix -> service name, resolved on first sight (there are only a few)."""

    def __init__(self, resolve: Callable[[str], str]) -> None:
        super().__init__({None: "", "": ""})
        self._resolve = resolve

    def __missing__(self, prefix: str) -> str:
        name = self[prefix] = self._resolve(prefix)
        return name


class LogParser:
    """Splits kept lines into :class:`LogLine` (service, timestamp, text).

    ``project`` and ``services`` (from the config) let the container prefix be
    mapped back to the service name even when the service name itself contains
    the project name (``mr-dj-backend`` in project ``mr-dj``).
    """

    def __init__(self, project: str | None = None, services: Collection[str] = ()) -> None:
        self.project = project
        self.services = frozenset(services)
        self._service_of = _ServiceNames(self._resolve)

    def service_name(self, prefix: str) -> str:
        return self._service_of[prefix]

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
                    candidates.append(base[len(self.project) + 1 :])
        for name in candidates:
            if name in self.services:
                return name
        # Unknown service: v1 names are project_service_N, v2 names are service-N.
        m = _REPLICA_V1.match(prefix)
        if m:
            base = m.group(1)
            if self.project and base.startswith(self.project + "_"):
                return base[len(self.project) + 1 :]
            return base.split("_", 1)[1] if "_" in base else base
        m = _REPLICA_V2.match(prefix)
        return m.group(1) if m else prefix

    def parse_line(self, line: str) -> LogLine:
        """One line as the buffer keeps it (already through :func:`prepare_lines`)."""
        head = _HEAD.match(line)  # always matches (maybe empty)
        return LogLine(self._service_of[head[1]], head[2] or "", line[head.end() :])  # type: ignore[index,union-attr]

    def parse(self, raw_lines: Sequence[str]) -> list[LogLine]:
        return list(map(self.parse_line, prepare_lines(raw_lines)))

    def services_of(self, lines: Iterable[str]) -> Iterator[str]:
        """The service of each line, lazily; per-line work in C."""
        return map(self._service_of.__getitem__, map(_group, map(_PREFIX.match, lines), repeat(1)))  # type: ignore[arg-type]  # always matches


def texts_of(lines: Iterable[str]) -> Iterator[str]:
    """The text of each kept line (what follows prefix and timestamp), lazily; per-line work in C."""
    return map(getitem, lines, map(slice, map(_end, map(_HEAD.match, lines)), repeat(None)))  # type: ignore[arg-type]  # always matches


def parse_lines(raw_lines: Sequence[str], project: str | None = None, services: Collection[str] = ()) -> list[LogLine]:
    return LogParser(project, services).parse(raw_lines)


class LogBuffer:
    """The newest ``max_lines`` lines, raw, each with a sequence number that only grows.

    The first line ever added has sequence 0; when old lines are dropped the
    survivors keep their numbers, so a view holding sequence numbers stays valid.
    Lines are kept **unsplit**: each chunk is one string, its lines each followed by a
    newline, as they arrived (after :func:`prepare_chunk` or :func:`prepare_lines`), with
    its line count. A chunk is split only when one of its rows is drawn, searched or
    filtered (:meth:`_lines`, the last :data:`SPLIT_CACHE_SIZE` splits remembered); that
    is also where lines longer than :data:`MAX_LINE_CHARS` are cut, before any regex sees
    them. Strings are never tracked by the garbage collector, so no GC pass walks the
    lines. Chunks hold at most a quarter of the capacity (small batches are merged until a
    chunk holds :data:`CHUNK_MIN` lines); whole chunks are dropped, so at most 1.25 x
    ``max_lines`` lines are held. :meth:`get` parses on demand and remembers the last
    :data:`PARSE_CACHE_SIZE` lines. Each chunk holds one host's lines (``host=``), so the
    host of a line is its chunk's.
    """

    def __init__(
        self, max_lines: int = DEFAULT_MAX_LINES, parser: LogParser | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.max_lines = max_lines
        # Characters stand for bytes (the text is mostly ASCII); chunks are cut at an eighth of the
        # budget so dropping the oldest whole chunk keeps the held text within ~1.125 x max_bytes.
        self.max_bytes = max_bytes
        self._chunk_bytes_max = max(1, max_bytes // 8)
        self._sizes = array("q")  # characters held by each chunk
        self._held = 0
        self.parser = parser or LogParser()
        self._chunks: list[str] = []  # each: its lines, every one followed by "\n"
        self._hosts: list[str] = []  # the host of each chunk ("": a single host's)
        self._starts = array("q")  # sequence number of each chunk's first line
        self._first = 0  # oldest kept sequence number
        self._end = 0  # one past the newest
        self._chunk_max = max(1, max_lines // 4)
        self._parsed: dict[int, LogLine] = {}
        self._split: dict[int, tuple[str, ...]] = {}  # chunk start -> its lines, the last few split
        self._services_seen: dict[str, int] = {}  # service -> newest sequence, in order of first sight
        self._services_scanned_to = 0

    def __len__(self) -> int:
        return self._end - self._first

    @property
    def first_seq(self) -> int:
        return self._first

    @property
    def end_seq(self) -> int:
        """One past the newest sequence number (the total number of lines ever added)."""
        return self._end

    @property
    def bytes_held(self) -> int:
        """Characters of raw text held (kept plus not yet dropped); about ``max_bytes`` at most."""
        return self._held

    @property
    def capacity_used(self) -> int:
        """Lines held, kept plus not yet dropped; never above 1.25 x max_lines."""
        return self._end - self._starts[0] if self._chunks else 0

    @property
    def chunks_held(self) -> int:
        return len(self._chunks)

    def extend(self, lines: Sequence[str], *, prepared: bool = False, host: str = "") -> int:
        """Append a batch of raw lines; returns the sequence number of its first line.

        ``prepared``: the caller already ran them through :func:`prepare_lines`.
        ``host``: the fleet host they came from, kept once for the batch.
        """
        if not prepared:
            lines = prepare_lines(lines)
        if not lines:
            return self._end
        return self.extend_text("\n".join(lines) + "\n", len(lines), host=host)

    def extend_text(self, text: str, count: int, *, host: str = "") -> int:
        """Append ``count`` lines held in one string, each followed by a newline, as
        :func:`prepare_chunk` returns them (safe to keep: no other control character).
        Returns the sequence number of the first line; the text is kept as is, unsplit."""
        first = self._end
        if count <= 0:
            return first
        if count > self.max_lines:
            # Everything held now and the head of the batch would be dropped on arrival.
            self.skip(count - self.max_lines)
            text = "".join(line + "\n" for line in _split_text(text, cut=False)[-self.max_lines :])
            count = self.max_lines
        size = len(text) - count  # characters of the lines, their newlines left out
        step = self._chunk_max
        if size > self._chunk_bytes_max:  # long lines: fewer of them to a chunk
            step = max(1, min(step, self._chunk_bytes_max * count // size))
        if count <= step:
            self._append(text, count, size, host)
        else:
            lines = _split_text(text, cut=False)
            for at in range(0, count, step):
                piece = "".join(line + "\n" for line in lines[at : at + step])
                taken = min(step, count - at)
                self._append(piece, taken, len(piece) - taken, host)
        self._first = max(self._first, self._end - self.max_lines)
        gone = bisect_right(self._starts, self._first) - 1  # chunks wholly older than the first kept
        gone = max(gone, 0)
        held = self._held - sum(self._sizes[:gone])
        # Over the byte budget the oldest chunks go too; the newest chunk always stays.
        while held > self.max_bytes and gone + 1 < len(self._chunks):
            held -= self._sizes[gone]
            gone += 1
        if gone > 0:
            self._first = max(self._first, self._starts[gone])
            self._held -= sum(self._sizes[:gone])
            del self._chunks[:gone]
            del self._hosts[:gone]
            del self._starts[:gone]
            del self._sizes[:gone]
        return first

    def _append(self, text: str, count: int, size: int, host: str = "") -> None:
        if (
            self._chunks
            and count < CHUNK_MIN // 8  # a trickle's batch; a stream's chunk would only be copied
            and self._hosts[-1] == host
            and self._end - self._starts[-1] < CHUNK_MIN
            and self._end - self._starts[-1] + count <= self._chunk_max
            and self._sizes[-1] + size <= self._chunk_bytes_max
        ):
            self._chunks[-1] += text  # its split, if remembered, is seen to be short (_lines)
            self._sizes[-1] += size
        else:
            self._chunks.append(text)
            self._hosts.append(host)
            self._starts.append(self._end)
            self._sizes.append(size)
        self._end += count
        self._held += size

    def skip(self, count: int) -> None:
        """Account for ``count`` lines that arrived but were dropped before being stored.

        Only used when a burst larger than the whole buffer arrives at once: then
        every line held now is older than the burst and would be dropped too.
        """
        self._end += count
        self.clear()

    def clear(self) -> None:
        self._first = self._end
        self._chunks = []
        self._hosts = []
        self._starts = array("q")
        self._sizes = array("q")
        self._split.clear()
        self._held = 0

    def _count(self, k: int) -> int:
        return (self._starts[k + 1] if k + 1 < len(self._starts) else self._end) - self._starts[k]

    def _lines(self, k: int, remember: bool = True) -> tuple[str, ...]:
        """The lines of chunk ``k``, split (and long ones cut) now unless split lately.

        A scan (filter, services) passes ``remember=False``: it would only push out the
        splits of the rows on screen."""
        start = self._starts[k]
        lines = self._split.get(start)
        if lines is not None and len(lines) == self._count(k):
            return lines
        lines = tuple(_split_text(self._chunks[k]))
        if remember:
            if len(self._split) >= SPLIT_CACHE_SIZE:
                del self._split[next(iter(self._split))]
            self._split[start] = lines
        return lines

    def _chunk_of(self, seq: int) -> int:
        if not self._first <= seq < self._end:
            raise IndexError(f"sequence {seq} is not in the buffer")
        return bisect_right(self._starts, seq) - 1

    def _slice(self, start: int, end: int | None = None) -> list[str]:
        """The kept lines with sequence numbers in ``[start, end)``."""
        start = max(start, self._first)
        end = self._end if end is None else min(end, self._end)
        lines: list[str] = []
        k = bisect_right(self._starts, start) - 1
        while start < end:
            chunk_start = self._starts[k]
            chunk = self._lines(k, remember=end - start <= CHUNK_MIN)
            lines.extend(chunk[start - chunk_start : end - chunk_start])
            start = chunk_start + len(chunk)
            k += 1
        return lines

    def _slice_hosts(self, start: int, hosts: frozenset[str]) -> tuple[list[int], list[str]]:
        """Sequence numbers and lines from ``start`` on, of the chunks from ``hosts`` only (whole
        chunks kept or dropped: no per-line test)."""
        start = max(start, self._first)
        seqs: list[int] = []
        lines: list[str] = []
        first = max(0, bisect_right(self._starts, start) - 1)
        for k in range(first, len(self._chunks)):
            if self._hosts[k] not in hosts:
                continue
            chunk, chunk_start = self._lines(k, remember=False), self._starts[k]
            skip = max(0, start - chunk_start)
            lines.extend(chunk[skip:])
            seqs.extend(range(chunk_start + skip, chunk_start + len(chunk)))
        return seqs, lines

    def raw(self, seq: int) -> str:
        """The line as kept, prefix and timestamp included."""
        k = self._chunk_of(seq)
        return self._lines(k)[seq - self._starts[k]]

    def get(self, seq: int) -> LogLine:
        line = self._parsed.get(seq)
        if line is None:
            k = self._chunk_of(seq)
            if len(self._parsed) >= PARSE_CACHE_SIZE:
                self._parsed.clear()
            line = self.parser.parse_line(self._lines(k)[seq - self._starts[k]])
            host = self._hosts[k]
            if host:
                line = line._replace(host=host)
            self._parsed[seq] = line
        elif not self._first <= seq < self._end:
            raise IndexError(f"sequence {seq} is not in the buffer")
        return line

    def host(self, seq: int) -> str:
        """The fleet host the line came from ("" for a single host's)."""
        return self._hosts[self._chunk_of(seq)]

    def hosts(self) -> list[str]:
        """Distinct hosts among the kept lines, in the order they were first seen (per chunk, cheap)."""
        return [h for h in dict.fromkeys(self._hosts) if h]

    def text(self, seq: int) -> str:
        line = self._parsed.get(seq)
        if line is not None and self._first <= seq < self._end:
            return line.text
        raw = self.raw(seq)
        return raw[_HEAD.match(raw).end() :]  # type: ignore[union-attr]

    def service(self, seq: int) -> str:
        return self.get(seq).service

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self.first_seq <= seq < self.end_seq

    def since(self, seq: int) -> Iterator[tuple[int, LogLine]]:
        """``(seq, line)`` for every kept line with sequence >= ``seq``."""
        seq = max(seq, self.first_seq)
        if any(self._hosts):
            return ((s, self.get(s)) for s in range(seq, self.end_seq))
        return zip(range(seq, self.end_seq), map(self.parser.parse_line, self._slice(seq)), strict=True)

    def __iter__(self) -> Iterator[tuple[int, LogLine]]:
        return self.since(self.first_seq)

    def select(self, keep: LogFilter, since: int) -> array:
        """Sequence numbers of kept lines from ``since`` on that pass ``keep``.

        Chunk by chunk: a host filter keeps or drops whole chunks, and for a substring a
        chunk whose (lower-cased) text does not contain it is skipped unsplit. The lines of
        the chunks left are scanned in C-level ``map`` pipelines: the service from the
        container prefix alone; for a substring, a cheap "anywhere in the raw line" test
        first, then the exact test on the text of the lines left.
        """
        since = max(since, self.first_seq)
        found = array("q")
        text = keep.text if keep.text else None
        hint = text.hint if text is not None else None
        for k in range(max(0, bisect_right(self._starts, since) - 1), len(self._chunks)):
            if keep.hosts is not None and self._hosts[k] not in keep.hosts:
                continue
            # str.lower works character by character, so a text that contains the
            # needle is in a raw chunk that contains it: this only drops lines.
            if hint is not None and hint not in self._chunks[k].lower():
                continue
            start = self._starts[k]
            skip = max(0, since - start)
            lines: Sequence[str] = self._lines(k, remember=False)[skip:]
            seqs: Iterable[int] = range(start + skip, start + skip + len(lines))
            if hint is not None:
                hits = list(map(str.__contains__, map(str.lower, lines), repeat(hint)))
                seqs, lines = list(compress(seqs, hits)), list(compress(lines, hits))
            if keep.services is not None:
                hits = list(map(keep.services.__contains__, self.parser.services_of(lines)))
                seqs = list(compress(seqs, hits))
                if text is not None:
                    lines = list(compress(lines, hits))
            if text is not None:
                seqs = compress(seqs, text.each_matches(texts_of(lines)))
            found.extend(seqs)
        return found

    def services(self) -> list[str]:
        """Distinct services among the kept lines, in the order they were first seen.

        Incremental: each call looks only at the lines added since the last one.
        """
        start = max(self._services_scanned_to, self.first_seq)
        lines = self._slice(start)
        # dict(zip()) keeps each service's newest sequence, keys in order of first sight.
        self._services_seen.update(zip(self.parser.services_of(lines), range(start, self.end_seq), strict=True))
        self._services_scanned_to = self.end_seq
        first = self.first_seq
        for gone in [s for s, newest in self._services_seen.items() if newest < first]:
            del self._services_seen[gone]
        return [s for s in self._services_seen if s]


def _split_text(text: str, cut: bool = True) -> list[str]:
    """The lines of a kept chunk (each followed by a newline), long ones cut (``cut``)."""
    lines = text.split("\n")
    del lines[-1]  # what follows the last newline: nothing
    if cut and len(text) > MAX_LINE_CHARS and max(map(len, lines), default=0) > MAX_LINE_CHARS:
        lines = [line if len(line) <= MAX_LINE_CHARS or _was_cut(line) else truncate(line) for line in lines]
    return lines


def _was_cut(line: str) -> bool:
    """``line`` is already :func:`truncate`'s output (lines from :func:`prepare_lines` are)."""
    return line.endswith(" chars]") and line.startswith(" …[+", MAX_LINE_CHARS)


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

    @property
    def hint(self) -> str | None:
        """A lower-case needle every matching raw line contains (None for a regex)."""
        return None if self.regex else self._needle

    def matches(self, text: str) -> bool:
        if not self.regex:
            return self._needle in text.lower()
        return self._compiled.search(text) is not None

    def each_matches(self, texts: Iterable[str]) -> Iterator[object]:
        """A truthy value per text that matches, lazily; per-text work in C."""
        if not self.regex:
            return map(str.__contains__, map(str.lower, texts), repeat(self._needle))
        return map(self._compiled.search, texts)

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._compiled.finditer(text) if m.end() > m.start()]


@dataclass(frozen=True)
class LogFilter:
    services: frozenset[str] | None = None  # None: every service
    text: TextMatcher | None = None
    hosts: frozenset[str] | None = None  # None: every fleet host

    @property
    def active(self) -> bool:
        return self.services is not None or bool(self.text) or self.hosts is not None

    @property
    def key(self) -> tuple:
        """Equal for filters that select the same lines."""
        text = (self.text.pattern, self.text.regex) if self.text else None
        return self.services, text, self.hosts

    def accepts(self, line: LogLine) -> bool:
        if self.hosts is not None and line.host not in self.hosts:
            return False
        if self.services is not None and line.service not in self.services:
            return False
        return not self.text or self.text.matches(line.text)


class LogView:
    """The rows a log pane shows: the sequence numbers of the lines that pass a filter.

    Kept up to date incrementally: :meth:`sync` filters only the lines added since
    the last call and forgets rows whose lines the buffer has dropped. The rows of
    the last :data:`CACHED_FILTERS` filters are kept (8 bytes a row), so switching
    back to one (cycling services, clearing a filter) only catches up.
    """

    def __init__(self, buffer: LogBuffer, filter: LogFilter | None = None) -> None:
        self.buffer = buffer
        self.filter = filter or LogFilter()
        self._seqs: array | range = range(0)
        self._synced_to = buffer.first_seq
        self._cache: dict[tuple, tuple[array, int]] = {}
        self.rebuild()

    def __len__(self) -> int:
        return len(self._seqs)

    def rebuild(self, filter: LogFilter | None = None) -> None:
        """Show the lines that pass ``filter`` (the current one if None)."""
        if self.filter.active and isinstance(self._seqs, array):
            self._cache[self.filter.key] = (self._seqs, self._synced_to)
            while len(self._cache) > CACHED_FILTERS:
                del self._cache[next(iter(self._cache))]
        if filter is not None:
            self.filter = filter
        cached = self._cache.pop(self.filter.key, None) if self.filter.active else None
        if cached is not None:
            self._seqs, self._synced_to = cached
        else:
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
            seqs = self._seqs if isinstance(self._seqs, array) else array("q", self._seqs)
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

    def search(self, matcher: TextMatcher, start_row: int, backward: bool = False, wrap: bool = True) -> int | None:
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
        raw, text, hint = self.buffer.raw, self.buffer.text, matcher.hint
        seqs = self._seqs
        for rows in (order, rest) if wrap else (order,):
            for row in rows:
                seq = seqs[row]
                if hint is not None and hint not in raw(seq).lower():
                    continue
                if matcher.matches(text(seq)):
                    return row
        return None


__all__ = [
    "DEFAULT_MAX_LINES",
    "MAX_LINE_CHARS",
    "LogBuffer",
    "LogFilter",
    "LogLine",
    "LogParser",
    "LogView",
    "TextMatcher",
    "parse_lines",
    "prepare_chunk",
    "prepare_lines",
    "texts_of",
    "truncate",
]
