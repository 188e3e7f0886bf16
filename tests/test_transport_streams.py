from console.transport.streams import MAX_LINE, BoundedCapture, CommandRun, LineSplitter


def split(chunks, max_line=MAX_LINE, capture=None):
    calls = []
    splitter = LineSplitter("stdout", lambda stream, lines: calls.append((stream, lines)), capture, max_line=max_line)
    for chunk in chunks:
        splitter.feed(chunk)
    splitter.finish()
    return calls


def test_one_call_per_chunk_with_complete_lines():
    assert split([b"a\nb\nc\n"]) == [("stdout", ["a", "b", "c"])]


def test_partial_line_waits_for_the_next_chunk_and_the_tail_is_flushed():
    assert split([b"ab", b"c\nde", b"f\ng"]) == [("stdout", ["abc"]), ("stdout", ["def"]), ("stdout", ["g"])]


def test_multibyte_character_split_across_chunks_survives():
    text = "héllo wörld\n".encode()
    assert split([text[:2], text[2:]]) == [("stdout", ["héllo wörld"])]


def test_invalid_utf8_is_replaced_not_fatal():
    assert split([b"\xff\xfe ok\n"]) == [("stdout", ["\ufffd\ufffd ok"])]


def test_empty_lines_are_kept():
    assert split([b"\n\nx\n"]) == [("stdout", ["", "", "x"])]


def test_long_line_is_cut_with_a_marker_and_memory_stays_bounded():
    splitter = LineSplitter("stdout", None, None, max_line=10)
    for _ in range(1000):
        splitter.feed(b"x" * 100)
        assert len(splitter._pending) <= 10
    calls = []
    splitter.on_output = lambda s, lines: calls.append(lines)
    splitter.feed(b"yyy\nnext\n")
    assert calls == [["x" * 10 + " … [line truncated, 99993 more bytes]", "next"]]


def test_long_line_inside_one_chunk_is_cut_too():
    calls = split([b"short\n" + b"z" * 50 + b"\nend\n"], max_line=20)
    assert calls[0][1][0] == "short"
    assert calls[0][1][1].startswith("z" * 20 + " … [line truncated, 30")
    assert calls[0][1][2] == "end"


def test_a_big_chunk_of_short_lines_is_passed_on_as_split(monkeypatch):
    from console.transport import streams

    cut = []
    monkeypatch.setattr(streams, "truncate_line", lambda line, *args: cut.append(line) or line)
    lines = [f"line {i}" for i in range(30_000)]
    calls = split(["\n".join(lines).encode() + b"\n"], max_line=100)
    assert calls == [("stdout", lines)] and cut == []


def test_long_unterminated_tail_is_cut_at_eof():
    calls = split([b"q" * 30], max_line=10)
    assert calls == [("stdout", ["q" * 10 + " … [line truncated, 20 more bytes]"])]


def test_capture_keeps_the_last_part_within_its_limit():
    capture = BoundedCapture(limit=100)
    for i in range(1000):
        capture.add([f"line {i}"])
    text = capture.text()
    assert len(text) <= 100 and text.endswith("line 999\n") and capture.dropped


def test_capture_of_one_huge_batch_is_still_bounded():
    capture = BoundedCapture(limit=10)
    capture.add(["a" * 50])
    assert capture.text() == "a" * 9 + "\n"


def test_a_command_run_makes_results_with_what_it_captured():
    argv = ["echo", "hi"]
    run = CommandRun(argv, capture=True)
    LineSplitter("stdout", None, run.stdout).feed(b"hi\n")
    LineSplitter("stderr", None, run.stderr).feed(b"warn\n")
    done = run.result(0)
    assert (done.argv, done.exit_status, done.stdout, done.stderr) == (argv, 0, "hi\n", "warn\n")
    assert done.argv is not argv and done.duration >= 0 and done.ok
    assert run.result(None).unknown


def test_a_command_run_without_capture_keeps_no_output():
    run = CommandRun(["true"], capture=False)
    assert run.stdout is None and run.stderr is None
    assert (run.result(1).stdout, run.result(1).stderr) == ("", "")
