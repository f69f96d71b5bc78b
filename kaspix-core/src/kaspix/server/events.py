"""Live updates by server-sent events, instead of one poll per second per client.

One watcher task looks at every followed job each :data:`TICK_S` seconds: it reads the new
complete lines of the job's console output once and hands them to every client following it,
together with the job's state whenever it changed, and ``end`` when the job is over and its
output fully sent. A client that reconnects sends ``Last-Event-ID`` (the byte offset it got to;
browsers do this by themselves) and continues from there. The jobs list is followed the same way.

Events of ``GET /api/jobs/{id}/events``: ``job`` (the job detail), ``log`` (``{"text", "offset"}``),
``end`` (``{"status"}``). Events of ``GET /api/events``: ``jobs`` (the jobs list).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from kaspix.server.store import ACTIVE
from kaspix.server.views import JobViews

__all__ = ["HEARTBEAT_S", "TICK_S", "EventHub", "sse"]

log = logging.getLogger("kaspix.server")

#: How often followed logs and states are looked at: new lines reach clients within about this time.
TICK_S = 0.1
#: A comment line this often keeps idle streams (and proxies in front) open.
HEARTBEAT_S = 15.0
#: The most log bytes sent in one event.
MAX_CHUNK = 256 * 1024
#: Events a client may lag behind before its stream is closed (it reconnects and catches up from the file).
QUEUE_SIZE = 512


def sse(event: str, data: Any, *, event_id: int | None = None) -> bytes:
    """One server-sent event; ``data`` is sent as JSON unless it is already bytes of JSON."""
    text = data.decode() if isinstance(data, bytes) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n").encode()


def _log_event(start: int, data: bytes) -> bytes:
    end = start + len(data)
    return sse("log", {"text": data.decode("utf-8", errors="replace"), "offset": end}, event_id=end)


def _read(path: Path, start: int, size: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            return handle.read(size)
    except FileNotFoundError:
        return b""


def _line_aligned_size(path: Path) -> int:
    """The file's size, less a last line still being written."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    tail = _read(path, max(size - 65536, 0), 65536)
    cut = tail.rfind(b"\n")
    return size if cut < 0 else size - len(tail) + cut + 1


@dataclass
class _Event:
    kind: str  # log | job | end | jobs | close
    data: Any = None
    start: int = 0
    encoded: bytes | None = None  # the SSE bytes, made once for every client that needs them as they are


class _Subscription:
    def __init__(self, start: int = 0) -> None:
        self.queue: asyncio.Queue[_Event] = asyncio.Queue(QUEUE_SIZE)
        self.start = start  # the feed's offset when this client joined: older output comes from the file
        self.closed = False

    def push(self, event: _Event) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # a client too slow to keep up: end its stream, it reconnects
            self.closed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_Event("close"))


@dataclass
class _Feed:
    job_id: int
    path: Path
    offset: int  # output up to here has been handed to the subscribers
    subscribers: set[_Subscription] = field(default_factory=set)
    signature: Any = None


class EventHub:
    """Followed jobs and jobs lists, fed by one watcher task.

    Args:
        views: The job views (which know the store, the run folders and the console output files).
    """

    def __init__(self, views: JobViews) -> None:
        self.views = views
        self._feeds: dict[int, _Feed] = {}
        self._list_subscribers: set[_Subscription] = set()
        self._list_body: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- life cycle --------------------------------------------------------------
    def start(self) -> None:
        """Start the watcher (from the event loop)."""
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._watch())

    async def stop(self) -> None:
        """End every stream and the watcher."""
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def close_streams(self) -> None:
        """End every open stream now (the server is stopping); clients reconnect to the next server."""
        for subscription in [*self._list_subscribers, *(s for feed in self._feeds.values() for s in feed.subscribers)]:
            subscription.push(_Event("close"))

    def close_streams_soon(self) -> None:
        """:meth:`close_streams` from a signal handler or another thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.close_streams)

    # -- streams -----------------------------------------------------------------
    async def job_stream(self, job_id: int, output: Path, cursor: int, first: dict[str, Any]) -> AsyncIterator[bytes]:
        """The events of one job: its state now (``first``), its ``output`` from byte ``cursor`` on, then live updates."""
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = _Feed(job_id, output, _line_aligned_size(output))
        subscription = _Subscription(feed.offset)
        feed.subscribers.add(subscription)
        cursor = min(max(cursor, 0), subscription.start)
        try:
            yield sse("job", first)
            while cursor < subscription.start:  # what was written before this client came
                data = await anyio.to_thread.run_sync(_read, feed.path, cursor, min(subscription.start - cursor, MAX_CHUNK))
                if not data:
                    break
                yield _log_event(cursor, data)
                cursor += len(data)
            while True:
                try:
                    event = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event.kind == "log":
                    end = event.start + len(event.data)
                    if end <= cursor:
                        continue
                    if event.start == cursor:
                        event.encoded = event.encoded or _log_event(event.start, event.data)
                        yield event.encoded
                    else:  # this client is ahead of or behind the shared event: send just what it misses
                        missing = event.data[cursor - event.start :] if cursor > event.start else None
                        if missing is None:
                            missing = await anyio.to_thread.run_sync(_read, feed.path, cursor, end - cursor)
                        yield _log_event(cursor, missing)
                    cursor = end
                elif event.kind == "job":
                    event.encoded = event.encoded or sse("job", event.data)
                    yield event.encoded
                elif event.kind == "end":
                    yield sse("end", event.data)
                    return
                else:
                    return
        finally:
            feed.subscribers.discard(subscription)

    async def list_stream(self) -> AsyncIterator[bytes]:
        """The jobs list now, then again whenever it changes."""
        subscription = _Subscription()
        self._list_subscribers.add(subscription)
        try:
            yield sse("jobs", await anyio.to_thread.run_sync(self.views.list_json))
            while True:
                try:
                    event = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event.kind != "jobs":
                    return
                event.encoded = event.encoded or sse("jobs", event.data)
                yield event.encoded
        finally:
            self._list_subscribers.discard(subscription)

    # -- the watcher -------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for job_id in [job_id for job_id, feed in self._feeds.items() if not feed.subscribers]:
                del self._feeds[job_id]
            if not self._feeds and not self._list_subscribers:
                continue
            feeds = [(feed, feed.offset, feed.signature) for feed in self._feeds.values()]
            try:
                results, body = await anyio.to_thread.run_sync(self._collect, feeds, bool(self._list_subscribers))
            except Exception:  # keep watching whatever one pass met
                log.exception("live update pass failed")
                continue
            for feed, offset, signature, events in results:
                feed.offset, feed.signature = offset, signature
                for event in events:
                    for subscription in list(feed.subscribers):
                        subscription.push(event)
            if body is not None and body != self._list_body:
                self._list_body = body
                event = _Event("jobs", body)
                for subscription in list(self._list_subscribers):
                    subscription.push(event)

    def _collect(
        self, feeds: list[tuple[_Feed, int, Any]], want_list: bool
    ) -> tuple[list[tuple[_Feed, int, Any, list[_Event]]], bytes | None]:
        """In a worker thread: what is new for each followed job, and the jobs list when someone follows it."""
        results = []
        for feed, offset, signature in feeds:
            events: list[_Event] = []
            job = self.views.manager.store.get(feed.job_id)
            if job is None:
                results.append((feed, offset, signature, [_Event("end", {"status": "deleted"})]))
                continue
            over = job.status not in ACTIVE  # read before the file: a finished job's output is complete
            try:
                size = feed.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size > offset:
                data = _read(feed.path, offset, min(size - offset, MAX_CHUNK))
                if not over and len(data) < MAX_CHUNK:
                    data = data[: data.rfind(b"\n") + 1]  # whole lines only while it runs
                if data:
                    events.append(_Event("log", data, offset))
                    offset += len(data)
            new_signature = self.views.signature(job)
            if new_signature != signature:
                events.append(_Event("job", self.views.detail(job)))
                signature = new_signature
            if over and offset >= size:
                events.append(_Event("end", {"status": job.status}))
            results.append((feed, offset, signature, events))
        return results, self.views.list_json() if want_list else None
