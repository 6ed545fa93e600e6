"""The landing zone (docs/architecture.md §2): raw pages written atomically, the manifest last.

    landing/liquidation_token/asset={asset}/interval={interval}/fetch={fetch_id}/
        page-00001.json … _manifest.json                          (manifest_version 3: one fetch range)
    landing/liquidation_token/asset={asset}/interval={interval}/window={YYYY-MM-DD}/fetch={fetch_id}/
        page-00001.json … _manifest.json                          (versions 1–2: one window; still read)
    landing/_quarantine/{asset}/{window}/{fetch_id}-page-00003.json (+ .reason.txt)

A fetch lands one range (consecutive weeks of one asset, one continuation chain) into one folder. Its
manifest lists the pages landed and the windows complete so far; it is rewritten, atomically, each time a
page completes another window, and only after every page it lists is on disk as written and durable. So
a run killed at any point leaves complete windows that readers use and pages nobody reads: readers read
only the pages a manifest lists, and a fetch folder without a manifest is incomplete. The next fetch
removes what a killed run left (folders without a manifest, unlisted pages, temp files), under the output
folder's lock (report/lock.py), so never a live writer's. Older complete fetches stay: the newest fetch
that marks a window complete wins, and one whose listed pages are missing or resized is fetched again
(and the models do not use it).

Which pages land, and which go to quarantine (the range then stops; windows already complete stay):
- quarantined: a body that is not JSON after every retry; `data` missing or not a list; a row that is
  not an object, lacks `interval_time` or `interval_timestamp`, has a measure that is neither a number
  nor a numeric string ("123.4") nor null, or has `exchanges` that is neither a list of objects nor null.
  These would break the models or silently drop an hour, so nothing after them is trusted.
- landed as-is: unknown extra fields, `exchanges: null`, negative numbers, totals that disagree with
  their parts. The SQL data tests judge those, where a person can see them.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from report.errors import FetchError
from report.fetch.client import ENDPOINT, Page
from report.fetch.windows import FetchRange, FetchWindow, bucket_start
from report.files import fsync_dir, remove_temp_files, storage_errors, write_atomically, write_unlisted
from report.settings import interval_hours

TABLE = "liquidation_token"
MANIFEST = "_manifest.json"
# 2: api_root, source from the simulator's identity header; 3: one folder a fetch range, `windows`
MANIFEST_VERSION = 3
MEASURES = ("total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount")
_fetch_id_lock = threading.Lock()
_last_fetch_id = [""]


def new_fetch_id() -> str:
    """UTC time of the fetch start, `YYYYMMDDTHHMMSSffffffZ`: sorts lexically in time, unique per process."""
    with _fetch_id_lock:
        while True:
            fetch_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            if fetch_id > _last_fetch_id[0]:
                _last_fetch_id[0] = fetch_id
                return fetch_id


def utc_now_z() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def page_name(number: int) -> str:
    return f"page-{number:05d}.json"


def page_problem(body) -> str | None:
    """Why a parsed page must not land, or None when it may (see the module docstring)."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    data = body.get("data")
    if "data" not in body:
        return "`data` is missing"
    if not isinstance(data, list):
        return f"`data` is a {type(data).__name__}, not a list"
    for index, row in enumerate(data):
        problem = row_problem(row)
        if problem:
            return f"row {index}: {problem}"
    return None


def row_problem(row) -> str | None:
    if not isinstance(row, dict):
        return "not an object"
    for name in ("interval_time", "interval_timestamp"):
        if row.get(name) is None:
            return f"`{name}` is missing"
    for name in MEASURES:
        value = row.get(name)
        kind = type(value)
        if kind is int or value is None or (kind is float and value - value == 0):  # finite: the usual case
            continue
        if not is_numeric(value):
            return f"`{name}` is not numeric: {str(value)[:40]!r}"
    exchanges = row.get("exchanges")
    if exchanges is not None:
        if not isinstance(exchanges, list):
            return f"`exchanges` is a {type(exchanges).__name__}, not a list or null"
        if not all(isinstance(entry, dict) for entry in exchanges):
            return "`exchanges` holds an entry that is not an object"
    return None


def is_numeric(value) -> bool:
    """Numbers, numeric strings (some Kaiko endpoints quote numbers) and null; not booleans, NaN or inf."""
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def manifest_windows(manifest: dict) -> list[dict]:
    """The complete windows a manifest covers: its `windows` (version 3), or its one window (1 and 2)."""
    windows = manifest.get("windows")
    if isinstance(windows, list):
        return [entry for entry in windows if isinstance(entry, dict) and entry.get("window")]
    if not manifest.get("window"):
        return []
    return [{"window": manifest["window"], "start_time": manifest.get("start_time"),
             "end_time": manifest.get("end_time"), "rows": manifest.get("row_count")}]


def pages_mismatch(folder: Path, manifest: dict, only: list[str] | None = None) -> str | None:
    """How the fetch folder disagrees with its manifest (a listed page missing or resized, counts that do
    not add up), or None; `only`: check just these pages (those holding one window's rows). Unlisted files
    are not a disagreement: readers never read them."""
    listed = [entry for entry in manifest.get("pages") or [] if isinstance(entry, dict)]
    if len(listed) != manifest.get("page_count"):
        return f"the manifest lists {len(listed)} pages but says page_count {manifest.get('page_count')}"
    if sum(entry.get("rows") or 0 for entry in listed) != manifest.get("row_count"):
        return "its pages' rows do not add up to row_count"
    for entry in listed:
        if only is not None and entry.get("file") not in only:
            continue
        try:
            size = (folder / str(entry.get("file"))).stat().st_size
        except OSError:
            return f"{entry.get('file')} is missing"
        if size != entry.get("bytes"):
            return f"{entry.get('file')} has {size} bytes, the manifest says {entry.get('bytes')}"
    return None


@dataclass(frozen=True)
class LandedWindow:
    """One window as a complete fetch recorded it."""

    window: str
    start_time: str
    end_time: str
    fetched_at: str
    api_root: str | None
    fetch_id: str
    folder: Path
    usable: bool  # the fetch's listed pages are on disk as listed


class LandingZone:
    """The complete fetches of one endpoint folder, read once: what is landed, and what a killed run left."""

    def __init__(self, landing_dir: Path, table: str = TABLE, endpoint: str = ENDPOINT):
        self.landing_dir = landing_dir
        self.table, self.endpoint = table, endpoint
        self.root = landing_dir / table

    def fetch_folders(self) -> list[Path]:
        """Every fetch folder, both layouts (version 3 under the interval, 1–2 under a window)."""
        layouts = ("asset=*/interval=*/fetch=*", "asset=*/interval=*/window=*/fetch=*")
        return sorted(p for pattern in layouts for p in self.root.glob(pattern) if p.is_dir())

    def newest_by_window(self, asset: str, interval: str) -> dict[str, LandedWindow]:
        """Window label → the newest complete fetch that marks it complete."""
        newest: dict[str, LandedWindow] = {}
        base = self.root / f"asset={asset}" / f"interval={interval}"
        folders = sorted([*base.glob("fetch=*"), *base.glob("window=*/fetch=*")], key=lambda p: p.name)
        for folder in folders:  # fetch ids sort in time: later ones overwrite
            manifest = read_manifest(folder)
            if manifest is None:
                continue
            for entry in manifest_windows(manifest):
                pages = entry.get("pages")
                usable = pages_mismatch(folder, manifest, pages if isinstance(pages, list) else None) is None
                newest[entry["window"]] = LandedWindow(
                    entry["window"], entry.get("start_time"), entry.get("end_time"),
                    manifest.get("fetched_at"), manifest.get("api_root"), str(manifest.get("fetch_id")),
                    folder, usable)
        return newest

    def begin(self, fetch_range: FetchRange) -> FetchFolder:
        base = self.root / f"asset={fetch_range.asset}" / f"interval={fetch_range.interval}"
        with storage_errors(base):
            base.mkdir(parents=True, exist_ok=True)
            while True:
                fetch_id = new_fetch_id()
                folder = base / f"fetch={fetch_id}"
                try:
                    folder.mkdir()
                except FileExistsError:  # another process started this range in the same microsecond
                    continue
                # the folder's name is made durable with its first manifest (FetchFolder.write_manifest), not
                # here, before the range's first request: lost in a crash, it held no complete window
                return FetchFolder(self, fetch_range, fetch_id, folder)


def remove_incomplete(landing_dir: Path) -> list[Path]:
    """Delete what killed or failed fetches left: fetch folders without a manifest, pages their manifest
    does not list (landed after its last rewrite) and temp files, in every endpoint folder.

    Call only while holding the output folder's lock (report/lock.py): a live writer's files look the same.
    """
    removed = []
    for table in sorted(p.name for p in landing_dir.glob("*") if p.is_dir() and not p.name.startswith("_")):
        for folder in LandingZone(landing_dir, table).fetch_folders():
            manifest = read_manifest(folder)
            if manifest is None:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
                continue
            listed = {entry.get("file") for entry in manifest.get("pages") or [] if isinstance(entry, dict)}
            for page in folder.glob("page-*.json"):
                if page.name not in listed:
                    page.unlink(missing_ok=True)
                    removed.append(page)
    return removed + remove_temp_files(landing_dir)


class Coverage:
    """How far a chain has delivered its range, and so which windows are complete.

    Rows come in time order (sort=asc: oldest first); once a row for bucket t arrived, every bucket before
    t has arrived too, even those the API omitted for having no liquidations. A window is complete when
    the chain has delivered up to its end; at the end of the chain every window is.
    """

    def __init__(self, fetch_range: FetchRange, sort: str):
        self.range = fetch_range
        self.descending = sort == "desc"
        self.width = timedelta(hours=interval_hours(fetch_range.interval))
        self.edge = fetch_range.end if self.descending else fetch_range.start
        self.labels = [w.label for w in fetch_range.windows]
        self.starts = [w.start for w in fetch_range.windows]
        self.rows: dict[str, int] = dict.fromkeys(self.labels, 0)
        self.pages: dict[str, list[str]] = {label: [] for label in self.labels}

    def label_of(self, moment: datetime) -> str:
        """The window holding a bucket start (one straddling the range's start: the first window)."""
        return self.labels[max(bisect.bisect_right(self.starts, moment) - 1, 0)]

    def add(self, page_file: str, rows: list, starts: list | None = None) -> None:
        """Count a landed page's rows into their windows; `starts`: the rows' bucket starts, when the
        chain parsed them already (windows.bucket_start)."""
        moments = [moment for moment in (starts if starts is not None else map(bucket_start, rows))
                   if moment is not None]
        for moment in moments:
            label = self.label_of(moment)
            self.rows[label] += 1
            if page_file not in self.pages[label]:
                self.pages[label].append(page_file)
        if moments:
            self.edge = min(self.edge, *moments) if self.descending else \
                max(self.edge, max(moments) + self.width)

    def finish(self) -> None:
        self.edge = self.range.start if self.descending else self.range.end

    def complete(self) -> list[FetchWindow]:
        if self.descending:
            return [w for w in self.range.windows if self.edge <= w.start]
        return [w for w in self.range.windows if self.edge >= w.end]


@dataclass
class FetchFolder:
    """One fetch of one range being landed: pages, then a manifest rewritten as windows complete."""

    zone: LandingZone
    range: FetchRange
    fetch_id: str
    path: Path
    fetched_at: str = field(default_factory=lambda: utc_now_z())
    pages: list[dict] = field(default_factory=list)
    verified: int = 0  # pages[:verified] were checked on disk and made durable before a manifest listed them
    manifest: dict | None = None
    written: dict[str, tuple] = field(default_factory=dict)  # page file → (inode, size, mtime) as written

    def land(self, page: Page) -> dict:
        """Write one page under its final name: unlisted until a manifest names it (no temp file, rename or
        folder fsync a page; write_manifest makes the names durable, once for all pages since the last)."""
        name = page_name(page.number)
        written = write_unlisted(self.path / name, page.raw)
        self.written[name] = file_identity(written)
        entry = {"file": name, "sha256": hashlib.sha256(page.raw).hexdigest(), "bytes": len(page.raw),
                 "rows": page.rows, "answer_time": page.answer_time}
        self.pages.append(entry)
        return entry

    def quarantine(self, number: int, raw: bytes, reason: str, window_label: str) -> Path:
        quarantine = self.zone.landing_dir / "_quarantine"
        if self.zone.table != TABLE:  # another endpoint's pages get their own folder
            quarantine = quarantine / self.zone.table
        target = quarantine / self.range.asset / window_label / f"{self.fetch_id}-{page_name(number)}"
        write_atomically(target, raw)
        write_atomically(target.with_suffix(".reason.txt"),
                         f"{reason}\nasset={self.range.asset} window={window_label} "
                         f"range={self.range.start_time}..{self.range.end_time} page={number}\n".encode())
        return target

    def verify(self) -> None:
        """Check the pages landed since the last manifest and make their names durable: a manifest lists only
        pages that are on disk as written (same file, size and time: the bytes we hashed and fsynced; any
        other writer would have replaced, truncated or touched it), and survive a crash that keeps it."""
        for entry in self.pages[self.verified:]:
            path = self.path / entry["file"]
            try:
                identity = file_identity(path.stat())
            except FileNotFoundError:
                identity = None
            if identity != self.written.get(entry["file"]):
                raise FetchError(f"{path} changed on disk before its manifest was written (another "
                                 "process in the landing zone?): its windows are not marked complete.")
        with storage_errors(self.path):
            fsync_dir(self.path)
            if not self.verified and self.manifest is None:
                fsync_dir(self.path.parent)  # the fetch folder's own name, with its first manifest
        self.verified = len(self.pages)

    def write_manifest(self, coverage: Coverage, *, source: str, api_root: str, request_url: str,
                       request_params: dict, complete: bool, error: str | None = None) -> dict | None:
        """(Re)write the manifest for the windows complete so far; None while no window is complete."""
        windows = coverage.complete()
        if not windows:
            return None
        self.verify()
        self.manifest = {
            "manifest_version": MANIFEST_VERSION,
            "source": source,
            "api_root": api_root,
            "endpoint": self.zone.endpoint,
            "asset": self.range.asset,
            "interval": self.range.interval,
            "fetch_id": self.fetch_id,
            "start_time": self.range.start_time,
            "end_time": self.range.end_time,
            "request": {"url": request_url, "params": request_params},
            "fetched_at": self.fetched_at,
            "completed_at": utc_now_z(),
            "answer_time": self.pages[0]["answer_time"] if self.pages else None,
            "page_count": len(self.pages),
            "row_count": sum(entry["rows"] for entry in self.pages),
            "pages": list(self.pages),
            "windows": [{"window": w.label, "start_time": w.start_time, "end_time": w.end_time,
                         "rows": coverage.rows[w.label], "pages": coverage.pages[w.label]} for w in windows],
            "complete": complete,
            "error": error,
        }
        write_atomically(self.path / MANIFEST, orjson.dumps(self.manifest, option=orjson.OPT_INDENT_2))
        return self.manifest


def file_identity(stat: os.stat_result) -> tuple:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def iter_manifests(landing_dir: Path, table: str = TABLE) -> Iterator[tuple[Path, dict]]:
    for folder in LandingZone(landing_dir, table).fetch_folders():
        manifest = read_manifest(folder)
        if manifest is not None:
            yield folder, manifest
