"""Shared by the fetch tests: settings pointing at a simulator, reading the landing zone back, the truth.

Expected rows come from the simulator's own generator (`hourly_truth`), never from our client.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from report.settings import Settings

SECRET_KEY = "sk-test-7f3a9c1e5b"  # distinctive, so a leak anywhere is easy to find
PAST_NOW = datetime(2025, 4, 1, tzinfo=UTC)  # "now" for tests: every February window is settled


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sim_settings(sim, tmp_path: Path, **changes) -> Settings:
    """Settings aimed at `sim` (or at changes["base_url"] when sim is None), fast and strict for tests."""
    values = {"api_key": SECRET_KEY, "base_url": sim and sim.base_url, "assets": ("btc",),
              "output_dir": tmp_path, "max_requests_per_second": 500.0, "timeout_s": 5.0, "max_attempts": 4}
    values.update(changes)
    return Settings(**values)


def expected_rows(sim, asset: str, start: datetime, end: datetime) -> dict[str, dict]:
    """interval_time → row the simulator serves for each hour of [start, end) that has liquidations."""
    rows = {}
    hour = start
    while hour < end:
        row = sim.hourly_truth(asset, hour)
        if row is not None:
            rows[row["interval_time"]] = json.loads(json.dumps(row))
        hour += timedelta(hours=1)
    return rows


def fetch_dirs(landing: Path) -> list[Path]:
    """Every fetch folder: one a range (manifest_version 3) or, from older runs, one a window."""
    return sorted([*landing.glob("liquidation_token/asset=*/interval=*/fetch=*"),
                   *landing.glob("liquidation_token/asset=*/interval=*/window=*/fetch=*")])


def complete_fetch_dirs(landing: Path) -> list[Path]:
    return [d for d in fetch_dirs(landing) if (d / "_manifest.json").exists()]


def manifest_windows(folder: Path) -> list[dict]:
    """The windows a complete fetch marks complete (version 3 `windows`, or the one window of 1–2)."""
    manifest = json.loads((folder / "_manifest.json").read_text())
    if "windows" in manifest:
        return manifest["windows"]
    return [{"window": manifest["window"], "start_time": manifest["start_time"],
             "end_time": manifest["end_time"], "rows": manifest["row_count"]}]


def newest_complete_by_window(landing: Path) -> dict[tuple[str, str], Path]:
    """(asset, window label) → the folder of the newest complete fetch that marks the window complete."""
    newest: dict[tuple[str, str], tuple[str, Path]] = {}
    for folder in complete_fetch_dirs(landing):
        manifest = json.loads((folder / "_manifest.json").read_text())
        for entry in manifest_windows(folder):
            key = (manifest["asset"], entry["window"])
            if key not in newest or manifest["fetch_id"] > newest[key][0]:
                newest[key] = (manifest["fetch_id"], folder)
    return {key: folder for key, (_, folder) in sorted(newest.items())}


def read_verified_pages(folder: Path) -> list[dict]:
    """The parsed pages of a complete fetch, after checking each file against its manifest entry."""
    manifest = json.loads((folder / "_manifest.json").read_text())
    names = sorted(p.name for p in folder.iterdir() if p.name != "_manifest.json")
    assert names == [entry["file"] for entry in manifest["pages"]], f"{folder}: files differ from manifest"
    pages = []
    for entry in manifest["pages"]:
        raw = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
        assert len(raw) == entry["bytes"]
        body = json.loads(raw)
        assert len(body["data"]) == entry["rows"]
        pages.append(body)
    return pages


def window_rows(folder: Path, window: str) -> list[dict]:
    """The rows a complete fetch holds for one of its windows, duplicates kept; checks the window's count."""
    [entry] = [e for e in manifest_windows(folder) if e["window"] == window]
    rows = [row for page in read_verified_pages(folder) for row in page["data"]
            if entry["start_time"] <= row["interval_time"] < entry["end_time"]]
    assert len(rows) == entry["rows"], f"{folder} {window}: {len(rows)} rows, manifest {entry['rows']}"
    return rows


def landed_rows(landing: Path, asset: str) -> list[dict]:
    """Every row of the newest complete fetch of each window of `asset`, duplicates kept."""
    rows = []
    for (landed_asset, window), folder in newest_complete_by_window(landing).items():
        if landed_asset == asset:
            rows.extend(window_rows(folder, window))
    return rows


def assert_rows_exactly_once(landing: Path, sim, asset: str, start: datetime, end: datetime) -> None:
    rows = landed_rows(landing, asset)
    counts = Counter(row["interval_time"] for row in rows)
    duplicates = {time: n for time, n in counts.items() if n > 1}
    assert not duplicates, f"{asset}: hours landed more than once: {sorted(duplicates)[:5]}"
    expected = expected_rows(sim, asset, start, end)
    assert {row["interval_time"]: row for row in rows} == expected


def first_calls(request_log: list[dict], asset: str) -> list[dict]:
    """Logged first-page requests (the ones with start_time) for one asset."""
    return [r for r in request_log if r["path"].endswith(f"/token/{asset}") and "start_time" in r["query"]]


def all_text_under(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


class _ProxyHandler(BaseHTTPRequestHandler):
    server: RewritingProxy

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):  # noqa: N802 - the base class's naming
        upstream = urlsplit(self.server.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
        try:
            connection.request("GET", self.path, headers={"X-Api-Key": self.headers.get("X-Api-Key", ""),
                                                          "Accept": "application/json"})
            response = connection.getresponse()
            status, body = response.status, response.read()
        finally:
            connection.close()
        if status == 200:
            body = json.dumps(self.server.rewrite(json.loads(body))).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RewritingProxy(ThreadingHTTPServer):
    """A loopback proxy in front of the simulator that rewrites each 200 envelope (e.g. drops next_url)."""

    daemon_threads = True

    def __init__(self, upstream: str, rewrite: Callable[[dict], dict]):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.rewrite = rewrite

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def rewriting_proxy(upstream: str, rewrite: Callable[[dict], dict]) -> Iterator[RewritingProxy]:
    proxy = RewritingProxy(upstream, rewrite)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        thread.join()
        proxy.server_close()
