"""Landing off the request path: each range's landing work runs in order on a shared pool of landing threads.

A chain's thread only asks for pages (request, body, parse, bounds) and queues each page on its range's
lane; the lane writes the pages, fsyncs and rewrites the manifest, in the order they were queued, one task
at a time. So a slow disk (an fsync can take most of a second on a busy machine) delays when a window is
marked complete, never the next request; and the crash guarantees stay those of one thread doing both
(architecture §2): a range's pages and manifests are written in chain order, by one task at a time.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future

from report.errors import FetchError

Task = Callable[[], object]


class LandingLane:
    """One range's landing tasks, run in order on `pool` (or at once, in the caller's thread, without one).

    A task that raises a FetchError (a page refused, a page changed on disk) becomes `error` and the lane
    skips its later page tasks; `close(final)` runs `final` even then, and `done` resolves to its result.
    Anything else a task raises (a full disk, a bug) skips every later task and is `done`'s exception.
    """

    def __init__(self, pool: Executor | None, before_each: Callable[[], None] = lambda: None):
        self.pool, self.before_each = pool, before_each
        self.error: FetchError | None = None
        self.done: Future = Future()
        self._fatal: BaseException | None = None
        self._tasks: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._running = False

    @property
    def failed(self) -> bool:
        return self.error is not None or self._fatal is not None

    def put(self, task: Task) -> None:
        self._queue(task, final=False)

    def close(self, final: Task) -> Future:
        self._queue(final, final=True)
        return self.done

    def _queue(self, task: Task, *, final: bool) -> None:
        with self._lock:
            self._tasks.append((task, final))
            if self._running:
                return
            self._running = True
        if self.pool is None:
            self._drain()
        else:
            self.pool.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._tasks:
                    self._running = False
                    return
                task, final = self._tasks.popleft()
            self._run(task, final)

    def _run(self, task: Task, final: bool) -> None:
        if self._fatal is not None or (self.error is not None and not final):
            return  # the lane failed before this task
        try:
            self.before_each()
            result = task()
        except FetchError as exc:
            if final:
                self._fail(exc)
            else:
                self.error = exc
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on `done`
            self._fail(exc)
        else:
            if final:
                self.done.set_result(result)

    def _fail(self, exc: BaseException) -> None:
        self._fatal = exc
        if not self.done.done():
            self.done.set_exception(exc)
