"""One writer per output folder: every command that writes there holds an exclusive flock on `{output}/.lock`.

A second writer fails at once with one line naming the holder (pid, command, since when), or waits for it
with --wait. The kernel drops the lock when its holder dies, however it dies, so a killed run never
leaves a stale lock behind; the file itself stays (removing a lock file races with the next locker).
Clean-ups of what a killed writer left (incomplete fetch folders, temp files, `*.building`) run only
under this lock, so they can never remove a live writer's files. Readers take no lock.

Re-entrant within one thread: `run` holds the lock and calls `fetch`, `build`, … which take it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from report.errors import OutputBusyError
from report.files import storage_errors

LOCK_FILE = ".lock"

_held = threading.local()  # this thread's locks: resolved output folder → depth


@contextlib.contextmanager
def output_lock(output_dir: Path, command: str, *, wait: bool = False,
                log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the output folder's write lock for the block; `command` is what a second writer is told."""
    key = str(Path(output_dir).resolve())
    depths = _held.__dict__.setdefault("depths", {})
    if depths.get(key):
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    path = Path(output_dir) / LOCK_FILE
    with storage_errors(path):
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(handle, path, wait, log)
        _record_holder(handle, command)
        depths[key] = 1
        try:
            yield
        finally:
            depths.pop(key, None)
    finally:
        os.close(handle)  # closing the descriptor releases the flock


def _acquire(handle: int, path: Path, wait: bool, log: Callable[[str], None]) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        holder = describe_holder(path)
    folder = path.parent
    if not wait:
        raise OutputBusyError(f"{holder} is writing {folder}: wait for it to finish, pass --wait to start "
                              "when it does, or use another --output-dir.")
    log(f"Waiting for {holder} to finish writing {folder} …")
    fcntl.flock(handle, fcntl.LOCK_EX)


def _record_holder(handle: int, command: str) -> None:
    """Say who holds the lock, for the next writer's message. Only the command name: argv may hold secrets."""
    holder = {"pid": os.getpid(), "command": f"liqreport {command}",
              "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    os.ftruncate(handle, 0)
    os.pwrite(handle, (json.dumps(holder) + "\n").encode(), 0)


def describe_holder(path: Path) -> str:
    """'pid 4242 (`liqreport fetch`, since 2025-03-03T06:00:01Z)', or a vaguer phrase while it is written."""
    try:
        holder = json.loads(path.read_text())
        return f"pid {int(holder['pid'])} (`{holder['command']}`, since {holder['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another liqreport process"


def holds_lock(output_dir: Path) -> bool:
    """True when this thread holds the output folder's lock (clean-ups assert it)."""
    return bool(_held.__dict__.get("depths", {}).get(str(Path(output_dir).resolve())))
