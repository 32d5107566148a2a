"""Following Swarm service logs: docker's framing, timestamps, partial lines, and the follower thread.
The docker engine is replaced by canned frames here; tests/jobs/test_lab_logs.py follows a real service."""

from __future__ import annotations

import io
import struct
import threading
import time
from datetime import UTC, datetime

from jobs.logs.follow import Follower, LineSplitter, _frames, pump


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def test_frames_keep_stdout_and_stderr_apart():
    raw = io.BytesIO(frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b""))
    assert list(_frames(raw, tty=False)) == [("stdout", b"out\n"), ("stderr", b"err\n"), ("stdout", b"")]
    assert list(_frames(io.BytesIO(b"raw tty\n"), tty=True)) == [("stdout", b"raw tty\n")]


def test_timestamps_become_line_times():
    splitter = LineSplitter()
    [(text, stream, at)] = splitter.feed("stderr", b"2026-01-02T03:04:05.123456789Z \x1b[31mboom\x1b[0m\n")
    assert (text, stream) == ("boom", "stderr")
    assert at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def test_a_long_line_split_by_docker_is_joined_and_program_timestamps_stay():
    splitter = LineSplitter()
    assert splitter.feed("stdout", b"2026-01-02T03:04:05.1Z first half ") == []
    assert splitter.feed("stderr", b"2026-01-02T03:04:05.2Z other stream\n")[0][0] == "other stream"
    [(text, _, at)] = splitter.feed("stdout", b"2026-01-02T03:04:05.3Z second half 2026-01-02T00:00:00Z x\n")
    assert text == "first half second half 2026-01-02T00:00:00Z x"
    assert at == datetime(2026, 1, 2, 3, 4, 5, 100000, tzinfo=UTC)


def test_pump_accepts_plain_bytes_from_the_sdk_and_flushes_the_last_partial_line():
    got: list = []
    count = pump(iter([b"a\nb", b"c\n", b"tail without newline"]), got.extend, timestamps=False)
    assert [t for t, _, _ in got] == ["a", "bc", "tail without newline"] and count == 3


def test_the_follower_feeds_lines_until_stopped():
    received: list = []
    closed = threading.Event()

    def frames():  # type: ignore[no-untyped-def]
        for n in range(5):
            yield "stdout", f"2026-01-02T03:04:05Z line {n}\n".encode()
        closed.wait(5)  # a follow stays open until the connection is closed

    follower = Follower(frames(), closed.set, received.extend).start()
    deadline = time.monotonic() + 5
    while len(received) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    follower.stop(quiet=0.1)
    assert closed.is_set() and follower.lines == 5 and follower.error is None
    assert [t for t, _, _ in received] == [f"line {n}" for n in range(5)]


def test_stopping_catches_up_from_a_complete_read_without_repeating():
    """Docker delivers a finished task's last lines late: the complete read supplies them once."""
    full = [
        ("stdout", b"a\n"),
        ("stderr", b"e1\n"),
        ("stdout", b"b\n"),
        ("stderr", b"e2\n"),
        ("stdout", b"c\n"),
        ("stdout", b"long line "),
    ] + [("stdout", b"ends here\n"), ("stdout", b"d\n")]
    closed = threading.Event()

    def followed():  # type: ignore[no-untyped-def]
        yield from full[:2]  # a, e1 arrive live; then docker lags
        yield "stdout", b"long line "  # half of a line: must not be delivered as a line
        closed.wait(5)

    received: list = []
    follower = Follower(
        followed(), closed.set, received.extend, timestamps=False, complete=lambda: iter(full)
    )
    follower.start()
    deadline = time.monotonic() + 5
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    follower.stop(quiet=0.1)
    assert [(t, s) for t, s, _ in received] == [
        ("a", "stdout"),
        ("e1", "stderr"),
        ("b", "stdout"),
        ("e2", "stderr"),
        ("c", "stdout"),
        ("long line ends here", "stdout"),
        ("d", "stdout"),
    ]
    assert follower.lines == 7 and follower.error is None
