"""What a fetch shows while it runs: windows and rows done, the rate, the time left.

A backfill of hundreds of windows is one bar redrawn in place on a terminal (`BarProgress`), a line every
few seconds in CI or a log (`LineProgress`, never a line a window), or nothing with --quiet. The fetch
reports from its worker threads, page by page; these classes are thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

LINE_EVERY_S = 5.0
BAR_EVERY_S = 0.1
BAR_WIDTH = 24


class Progress:
    """Counts what is done; subclasses decide when and how to show it. This one shows nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.windows_total = 0
        self.windows = 0
        self.rows = 0
        self.started = clock()

    def start(self, windows_total: int) -> None:
        with self.lock:
            self.windows_total, self.windows, self.rows, self.started = windows_total, 0, 0, self.clock()

    def advance(self, windows: int = 0, rows: int = 0) -> None:
        with self.lock:
            self.windows += windows
            self.rows += rows
            self.changed()

    def finish(self) -> None:
        """The fetch is over (done or failed): the summary line follows from the fetch itself."""

    def changed(self) -> None:
        """Called under the lock after each advance."""

    def status(self) -> str:
        """'120/520 windows, 20,160 rows, 41.3 windows/s, about 10 s left'."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.windows / elapsed
        text = f"{self.windows}/{self.windows_total} windows, {self.rows:,} rows"
        if self.windows and self.windows < self.windows_total:
            left = (self.windows_total - self.windows) / rate
            text += f", {rate:.1f} windows/s, about {_duration(left)} left"
        return text


class LineProgress(Progress):
    """No terminal: one line through `log` at most every `every_s` seconds."""

    def __init__(self, log: Callable[[str], None], every_s: float = LINE_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.log, self.every_s = log, every_s
        self.last_shown = self.started

    def start(self, windows_total: int) -> None:
        super().start(windows_total)
        self.last_shown = self.started

    def changed(self) -> None:
        if self.clock() - self.last_shown >= self.every_s and self.windows < self.windows_total:
            self.last_shown = self.clock()
            self.log(f"[fetch] {self.status()}")


class BarProgress(Progress):
    """A terminal: one line redrawn in place, `[fetch] [#######.........]  120/520 windows, …`."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.stream = stream
        self.last_drawn = 0.0
        self.drawn = False

    def changed(self) -> None:
        if self.clock() - self.last_drawn >= BAR_EVERY_S or self.windows == self.windows_total:
            self.draw()

    def draw(self) -> None:
        self.last_drawn = self.clock()
        share = self.windows / self.windows_total if self.windows_total else 1.0
        filled = round(share * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r\x1b[2K[fetch] [{bar}] {self.status()}")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        with self.lock:
            if self.windows_total:
                self.draw()
            if self.drawn:
                self.stream.write("\n")
                self.stream.flush()
            self.drawn = False

    def above(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """`log` that prints its line above the bar (clear it, print, draw it again), not through it."""
        def log_above(message: str) -> None:
            with self.lock:
                if self.drawn:
                    self.stream.write("\r\x1b[2K")
                log(message)
                if self.drawn:
                    self.draw()

        return log_above


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
