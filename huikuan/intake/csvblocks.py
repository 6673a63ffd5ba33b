"""Plumbing for streaming CSV: blocks cut at record boundaries, re-chunking, prefetching."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from queue import Full, Queue
from typing import TypeVar

import polars as pl

T = TypeVar("T")


def record_blocks(blocks: Iterable[bytes], min_bytes: int) -> Iterator[bytes]:
    """Re-cut byte blocks at record boundaries (a newline outside quotes), each at least
    ``min_bytes`` long except the last, so every block parses on its own."""
    buffer = bytearray()
    for block in blocks:
        buffer += block
        if len(buffer) < min_bytes:
            continue
        end = last_record_end(buffer)
        if end >= 0:  # else one record is longer than the buffer: read on
            yield bytes(buffer[: end + 1])
            del buffer[: end + 1]
    if buffer:
        yield bytes(buffer)


def last_record_end(data: bytes | bytearray) -> int:
    """Index of the last newline outside quotes, -1 if none. A block starts outside quotes
    and an escaped quote ("") counts twice, so the parity of the quotes before says."""
    end = data.rfind(b"\n")
    while end >= 0 and data.count(b'"', 0, end) % 2:
        end = data.rfind(b"\n", 0, end)
    return end


def records_end(data: bytes, count: int) -> int:
    """Index just past the first ``count`` records of ``data`` (its length if fewer)."""
    end, quotes = -1, 0
    for _ in range(count):
        newline = data.find(b"\n", end + 1)
        while newline >= 0:
            quotes += data.count(b'"', end + 1, newline)
            end = newline
            if quotes % 2 == 0:
                break
            newline = data.find(b"\n", end + 1)
        if newline < 0:
            return len(data)
    return end + 1


def rechunk(frames: Iterable[pl.DataFrame], chunk_rows: int) -> Iterator[pl.DataFrame]:
    """Frames of exactly ``chunk_rows`` rows (the last one shorter)."""
    pending: list[pl.DataFrame] = []
    size = 0
    for frame in frames:
        pending.append(frame)
        size += frame.height
        while size >= chunk_rows:
            joined = pl.concat(pending)
            yield joined.slice(0, chunk_rows)
            rest = joined.slice(chunk_rows)
            pending, size = ([rest] if rest.height else []), rest.height
    if size:
        yield pl.concat(pending)


def prefetch(items: Iterator[T]) -> Iterator[T]:
    """``items``, with the next one produced in a thread while the caller works on this one.

    Decoding GBK and cutting blocks are Python and hold the GIL; validating is Polars, which
    releases it: one item ahead lets the two overlap. One item only, so memory stays flat.
    An exception in the producer is raised in the caller; leaving early stops the producer.
    """
    queue: Queue[tuple[str, object]] = Queue(maxsize=1)
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                queue.put((kind, value), timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as exc:
            put("error", exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="intake-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
