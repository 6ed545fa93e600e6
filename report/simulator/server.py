"""The HTTP side: a ThreadingHTTPServer that answers like Kaiko, with scripted or random faults."""

from __future__ import annotations

import gzip
import json
import math
import random
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from report.simulator import api, prices
from report.simulator.data import HOUR_S, hourly_block

DATA_PATH = re.compile(r"^/v2/data/liquidation\.v1/token/([^/]+)$")
FAULT_KINDS = ("429", "500", "502", "503", "504", "truncate", "reset", "garbage", "nodata", "ok")


@dataclass
class FaultPlan:
    """Faults for data requests: each request takes the next `script` entry, else one of `kinds` at `rate`.

    Kinds: "429" (with Retry-After), "500"/"502"/"503"/"504", "truncate" (half the body, then close),
    "reset" (close without answering), "slow:<seconds>", "garbage" (non-JSON 200), "nodata" (no `data`), "ok".
    """

    script: list[str] = field(default_factory=list)
    rate: float = 0.0
    kinds: tuple = ("429", "500", "503", "truncate")
    retry_after_s: float = 1.0
    seed: int = 0

    def __post_init__(self):
        unknown = [kind for kind in (*self.script, *self.kinds) if not is_fault_kind(kind)]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}: use {', '.join(FAULT_KINDS)} or slow:<s>")


def is_fault_kind(kind: str) -> bool:
    if kind.startswith("slow:"):
        try:
            return float(kind[5:]) >= 0
        except ValueError:
            return False
    return kind in FAULT_KINDS


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC here, as everywhere in liqreport (not the machine's local time)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is dropped after this
    # Headers and body go out as separate writes; with Nagle on, each keep-alive response would then wait
    # ~40 ms for the client's delayed ACK — a loopback artefact that would dominate every timing.
    disable_nagle_algorithm = True
    server: SimulatorServer

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):  # noqa: N802 - the base class's naming
        self.server.handle(self)


class SimulatorServer(ThreadingHTTPServer):
    """A Kaiko-compatible liquidation API on 127.0.0.1 (see report/simulator/__init__.py)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, *, seed: int = 7, latency_s: float = 0.0,
                 faults: FaultPlan | None = None,
                 timestamp_unit: str = "ns", data_start: datetime = datetime(2025, 1, 8, tzinfo=UTC),
                 revision: int = 0, empty_assets: Iterable[str] = frozenset(), api_key: str | None = None,
                 now: datetime | None = None, price_options: prices.PriceOptions | None = None):
        super().__init__(("127.0.0.1", port), _Handler)
        self.seed = seed
        self.latency_s = latency_s
        self.faults = faults if faults is not None else FaultPlan()
        self.timestamp_unit = timestamp_unit
        self.data_start = _utc(data_start)
        self.revision = revision
        self.empty_assets = frozenset(empty_assets)
        self.api_key = api_key
        self.now = None if now is None else _utc(now)
        self.price_options = price_options if price_options is not None else prices.PriceOptions()
        self.request_log: list[dict] = []
        self._lock = threading.Lock()
        self._fault_rng = random.Random(self.faults.seed)
        self._fault_rng_plan = self.faults
        self._connections: set[socket.socket] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.request_log)

    # --- data ---------------------------------------------------------------------------------------

    def _source(self, asset: str) -> api.DataSource:
        now = _utc(self.now) if self.now else datetime.now(UTC)
        if self.timestamp_unit not in api.TIMESTAMP_FACTORS:
            raise ValueError(f"timestamp_unit must be one of {sorted(api.TIMESTAMP_FACTORS)}")
        return api.DataSource(
            seed=self.seed, revision=self.revision, timestamp_unit=self.timestamp_unit,
            data_start_hour=math.ceil(_utc(self.data_start).timestamp() / HOUR_S),
            now_hour=math.floor(now.timestamp() / HOUR_S), empty=asset in self.empty_assets)

    def hourly_truth(self, asset: str, hour: datetime) -> dict | None:
        """The row served for this hour at interval 1h, or None when the hour has no liquidations."""
        source = self._source(asset)
        epoch_hour = math.floor(_utc(hour).timestamp() / HOUR_S)
        if source.empty or not source.data_start_hour <= epoch_hour < source.now_hour:
            return None
        trades, amounts = hourly_block(self.seed, asset, epoch_hour, epoch_hour + 1, self.revision)
        if trades.sum() == 0:
            return None
        return api.build_row(asset, epoch_hour, trades[0], amounts[0], self.timestamp_unit)

    # --- HTTP ---------------------------------------------------------------------------------------

    def process_request(self, request, client_address):
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self, timeout_s: float = 5.0) -> None:
        """Wake handler threads blocked on idle keep-alive connections so every socket gets closed."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._connections:
                    return
            time.sleep(0.01)

    def _record(self, path: str, query: dict, status: int) -> None:
        with self._lock:
            self.request_log.append({"path": path, "query": query, "status": status})

    def _next_fault(self) -> str:
        with self._lock:
            if self.faults.script:
                return self.faults.script.pop(0)
            if self._fault_rng_plan is not self.faults:  # a new plan brings its own seed
                self._fault_rng, self._fault_rng_plan = random.Random(self.faults.seed), self.faults
            if self.faults.rate and self._fault_rng.random() < self.faults.rate:
                return self._fault_rng.choice(tuple(self.faults.kinds))
        return "ok"

    def handle(self, handler: _Handler) -> None:
        request_time = datetime.now(UTC)
        url = urlsplit(handler.path)
        params = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        if self.latency_s:
            time.sleep(self.latency_s)
        match = DATA_PATH.match(url.path)
        ohlcv = prices.OHLCV_PATH.match(url.path)
        if not match and not ohlcv:
            return self._error(handler, url.path, params, 404, f"Not found: {url.path}")
        key = handler.headers.get("X-Api-Key", "")
        if not key or (self.api_key is not None and key != self.api_key):
            return self._error(handler, url.path, params, 401,
                               "Missing or invalid API key: send a valid key in the X-Api-Key header.")
        fault = self._next_fault()
        if fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
            fault = "ok"
        if fault == "reset":
            self._record(url.path, params, 0)
            handler.close_connection = True
            return None
        if fault in ("429", "500", "502", "503", "504"):
            headers = {"Retry-After": f"{self.faults.retry_after_s:g}"} if fault == "429" else {}
            messages = {"429": "Too many requests: rate limit exceeded, retry later.",
                        "503": "Service unavailable: maintenance in progress, try again later."}
            return self._error(handler, url.path, params, int(fault),
                               messages.get(fault, "Internal error, try again later."), headers)
        if fault == "garbage":
            self._record(url.path, params, 200)
            return self._send(handler, 200, b"<html><body>502 Bad Gateway (proxy)</body></html>")
        try:
            if ohlcv:
                envelope = prices.answer(self.price_options, self.seed, ohlcv.groups(), params, key,
                                         self.base_url, request_time, self.now or request_time)
            else:
                envelope = self._liquidation_answer(match.group(1), params, request_time)
        except api.ApiError as exc:
            return self._error(handler, url.path, params, exc.status, exc.message)
        if fault == "nodata":
            dropped = ("data", "continuation_token", "next_url")
            envelope = {k: v for k, v in envelope.items() if k not in dropped}
        self._record(url.path, params, 200)
        body = json.dumps(envelope).encode()
        return self._send(handler, 200, body, truncate=fault == "truncate")

    def _liquidation_answer(self, asset: str, params: dict, request_time: datetime) -> dict:
        source = self._source(asset)
        if "continuation_token" in params:
            query = api.decode_token(asset, params["continuation_token"], params)
        else:
            query = api.parse_first_call(asset, params, self.now or request_time, self.data_start)
        return api.answer(source, query, self.base_url, request_time)

    def _error(self, handler, path, params, status, message, headers=None) -> None:
        self._record(path, params, status)
        body = json.dumps({"result": "error", "message": message}).encode()
        self._send(handler, status, body, headers=headers)

    def _send(self, handler: _Handler, status: int, body: bytes, headers=None, truncate=False) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        if "gzip" in handler.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=1, mtime=0)  # loopback: speed beats ratio
            handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if truncate:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(body[:len(body) // 2] if truncate else body)
