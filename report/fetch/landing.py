"""The landing zone (docs/architecture.md §2): raw pages written atomically, the manifest last.

    landing/liquidation_token/asset={asset}/interval={interval}/window={YYYY-MM-DD}/fetch={fetch_id}/
        page-00001.json … _manifest.json
    landing/_quarantine/{asset}/{window}/{fetch_id}-page-00003.json (+ .reason.txt)

Readers trust a fetch folder only once its `_manifest.json` exists, and the manifest is written only after
every page it lists has been read back with its sha256, so a run killed at any point leaves either a
complete fetch or a folder nobody reads. The next fetch removes such folders, under the output folder's
lock (report/lock.py), so never a live writer's. Older complete fetches stay: the newest complete fetch
wins, and a complete fetch whose pages no longer match its manifest is fetched again (and the models do
not use it).

Which pages land, and which go to quarantine (the window then fails and gets no manifest):
- quarantined: a body that is not JSON after every retry; `data` missing or not a list; a row that is
  not an object, lacks `interval_time` or `interval_timestamp`, has a measure that is neither a number
  nor a numeric string ("123.4") nor null, or has `exchanges` that is neither a list of objects nor null.
  These would break the models or silently drop an hour, so nothing of the window is trusted.
- landed as-is: unknown extra fields, `exchanges: null`, negative numbers, totals that disagree with
  their parts, hours outside the window. The SQL data tests judge those, where a person can see them.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

from report.errors import FetchError
from report.fetch.client import ENDPOINT, Page
from report.fetch.windows import FetchWindow
from report.files import fsync_dir, remove_temp_files, storage_errors, write_atomically

TABLE = "liquidation_token"
MANIFEST = "_manifest.json"
MANIFEST_VERSION = 2  # 2: api_root; source from the simulator's identity header; pages checked on write
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
        if name in row and not is_numeric(row[name]):
            return f"`{name}` is not numeric: {str(row[name])[:40]!r}"
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


class LandingWindow:
    """The folder of one window: its complete fetches, and a new fetch in progress."""

    def __init__(self, landing_dir: Path, window: FetchWindow, table: str = TABLE, endpoint: str = ENDPOINT):
        self.landing_dir = landing_dir
        self.window = window
        self.table, self.endpoint = table, endpoint  # the endpoint's folder and its manifest name
        self.path = (landing_dir / table / f"asset={window.asset}" / f"interval={window.interval}"
                     / f"window={window.label}")

    def fetch_dirs(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if p.is_dir() and p.name.startswith("fetch="))

    def complete_manifests(self) -> list[dict]:
        """Manifests of the complete fetches, oldest first."""
        manifests = []
        for folder in self.fetch_dirs():
            manifest = read_manifest(folder)
            if manifest is not None:
                manifests.append(manifest)
        return manifests

    def newest_complete(self) -> dict | None:
        manifests = self.complete_manifests()
        return manifests[-1] if manifests else None

    def newest_usable(self) -> dict | None:
        """The newest complete fetch, if its pages are still on disk as its manifest lists them."""
        manifest = self.newest_complete()
        if manifest is None or pages_mismatch(self.path / f"fetch={manifest.get('fetch_id')}", manifest):
            return None
        return manifest

    def begin(self) -> FetchFolder:
        with storage_errors(self.path):
            self.path.mkdir(parents=True, exist_ok=True)
            while True:
                fetch_id = new_fetch_id()
                folder = self.path / f"fetch={fetch_id}"
                try:
                    folder.mkdir()
                except FileExistsError:  # another process started this window in the same microsecond
                    continue
                fsync_dir(self.path)
                return FetchFolder(self.landing_dir, self.window, fetch_id, folder, self.table, self.endpoint)


def remove_incomplete(landing_dir: Path) -> list[Path]:
    """Delete what killed or failed fetches left: fetch folders without a manifest and temp files.

    Call only while holding the output folder's lock (report/lock.py): a live writer's folder looks the same.
    """
    removed = []
    for folder in sorted(landing_dir.glob("*/asset=*/interval=*/window=*/fetch=*")):  # every endpoint
        if folder.is_dir() and read_manifest(folder) is None:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed + remove_temp_files(landing_dir)


def pages_mismatch(folder: Path, manifest: dict) -> str | None:
    """How the fetch folder disagrees with its manifest (a page missing, resized or extra), or None."""
    listed = {entry.get("file"): entry for entry in manifest.get("pages") or [] if isinstance(entry, dict)}
    if len(listed) != manifest.get("page_count"):
        return f"the manifest lists {len(listed)} pages but says page_count {manifest.get('page_count')}"
    try:
        on_disk = {path.name: path for path in folder.glob("page-*.json")}
    except OSError:
        on_disk = {}
    for name, entry in listed.items():
        if name not in on_disk:
            return f"{name} is missing"
        if on_disk[name].stat().st_size != entry.get("bytes"):
            return f"{name} has {on_disk[name].stat().st_size} bytes, the manifest says {entry.get('bytes')}"
    extra = sorted(set(on_disk) - set(listed))
    return f"{extra[0]} is not in the manifest" if extra else None


def read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


class FetchFolder:
    """One fetch of one window being landed: pages first, then the manifest that makes it complete."""

    def __init__(self, landing_dir: Path, window: FetchWindow, fetch_id: str, path: Path,
                 table: str = TABLE, endpoint: str = ENDPOINT):
        self.landing_dir = landing_dir
        self.table, self.endpoint = table, endpoint
        self.window = window
        self.fetch_id = fetch_id
        self.path = path
        self.fetched_at = utc_now_z()
        self.pages: list[dict] = []

    def land(self, page: Page) -> dict:
        name = page_name(page.number)
        write_atomically(self.path / name, page.raw)
        entry = {"file": name, "sha256": hashlib.sha256(page.raw).hexdigest(), "bytes": len(page.raw),
                 "rows": page.rows, "answer_time": page.answer_time}
        self.pages.append(entry)
        return entry

    def quarantine(self, number: int, raw: bytes, reason: str) -> Path:
        quarantine = self.landing_dir / "_quarantine"
        if self.table != TABLE:  # another endpoint's pages get their own folder
            quarantine = quarantine / self.table
        folder = quarantine / self.window.asset / self.window.label
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{self.fetch_id}-{page_name(number)}"
        write_atomically(target, raw)
        write_atomically(target.with_suffix(".reason.txt"),
                     f"{reason}\nasset={self.window.asset} window={self.window.label} "
                     f"range={self.window.start_time}..{self.window.end_time} page={number}\n".encode())
        return target

    def verify(self) -> None:
        """Read every landed page back: the manifest may only list what is on disk with its sha256."""
        for entry in self.pages:
            path = self.path / entry["file"]
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                raw = None
            if raw is None or hashlib.sha256(raw).hexdigest() != entry["sha256"]:
                raise FetchError(f"{path} changed on disk before its manifest was written (another "
                                 "process in the landing zone?): the window is not marked complete.")

    def complete(self, *, source: str, api_root: str, request_url: str, request_params: dict) -> dict:
        """Check the pages, then write the manifest last, atomically: from now on readers see this fetch."""
        self.verify()
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "source": source,
            "api_root": api_root,
            "endpoint": self.endpoint,
            "asset": self.window.asset,
            "interval": self.window.interval,
            "window": self.window.label,
            "fetch_id": self.fetch_id,
            "start_time": self.window.start_time,
            "end_time": self.window.end_time,
            "request": {"url": request_url, "params": request_params},
            "fetched_at": self.fetched_at,
            "completed_at": utc_now_z(),
            "answer_time": self.pages[0]["answer_time"] if self.pages else None,
            "page_count": len(self.pages),
            "row_count": sum(entry["rows"] for entry in self.pages),
            "pages": self.pages,
        }
        write_atomically(self.path / MANIFEST, json.dumps(manifest, indent=2).encode())
        return manifest
