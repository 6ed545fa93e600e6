"""The HTTP side: a ThreadingHTTPServer that answers like Kaiko, with scripted or random faults."""

from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import math
import random
import re
import socket
import sys
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
FAULT_KINDS = ("429", "500", "502", "503", "504", "truncate", "reset", "garbage", "nodata", "nulldata", "ok")
# Faults of a whole continuation chain rather than of one request (FaultPlan.chain).
CHAIN_FAULTS = ("", "endless", "repeat", "outside")
# Sent with every answer: how the fetch tells "landed from the built-in simulator" (DEMO DATA) from any
# other server, wherever it listens. Kaiko sends no such header.
IDENTITY_HEADER = "X-Liqreport-Simulator"
ENDLESS_PREFIX = "endless-"
ROWS_SPLICE = "__liqreport_rows__"  # where the cached rows go into an envelope's JSON
ROWS_CACHE_PAGES = 64


@dataclass
class FaultPlan:
    """Faults for data requests: each request takes the next `script` entry, else one of `kinds` at `rate`.

    Kinds: "429" (with Retry-After), "500"/"502"/"503"/"504", "truncate" (half the body, then close),
    "reset" (close without answering), "slow:<seconds>", "garbage" (non-JSON 200), "nodata" (no `data`),
    "nulldata" (`data: null`), "ok".

    `chain` breaks every continuation chain the same way:
    - "endless": every page carries a fresh continuation token; past the last real page the pages are empty,
      forever (a server that never says "done").
    - "repeat": every page carries a fresh token, and each follow-up answers the first page again.
    - "outside": the rows are those of the week before the requested range.
    `chain_assets` limits it to those assets (empty: all).
    """

    script: list[str] = field(default_factory=list)
    rate: float = 0.0
    kinds: tuple = ("429", "500", "503", "truncate")
    retry_after_s: float = 1.0
    seed: int = 0
    chain: str = ""
    chain_assets: tuple = ()

    def __post_init__(self):
        unknown = [kind for kind in (*self.script, *self.kinds) if not is_fault_kind(kind)]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}: use {', '.join(FAULT_KINDS)} or slow:<s>")
        if self.chain not in CHAIN_FAULTS:
            raise ValueError(f"unknown chain fault {self.chain!r}: use one of {', '.join(CHAIN_FAULTS[1:])}")


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
    # socketserver's listen backlog is 5: a client opening 8 connections at once had some SYNs dropped and
    # retried a second later (a 1 s stall in a fetch that should take half of one); Kaiko's is not that short
    request_queue_size = 128

    def __init__(self, port: int = 0, *, seed: int = 7, latency_s: float = 0.0,
                 faults: FaultPlan | None = None,
                 timestamp_unit: str = "ns", data_start: datetime = datetime(2025, 1, 8, tzinfo=UTC),
                 revision: int = 0, empty_assets: Iterable[str] = frozenset(), api_key: str | None = None,
                 now: datetime | None = None, exchange_codes: dict[str, str] | None = None,
                 price_options: prices.PriceOptions | None = None):
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
        # Served exchange code for a real one, e.g. {"binc": "=cmd|' /C calc'!A0"}: hostile-input tests.
        self.exchange_codes = dict(exchange_codes or {})
        self._endless = 0  # nonce that makes every "endless"/"repeat" token unique
        self._rows_cache: collections.OrderedDict = collections.OrderedDict()
        self.price_options = price_options if price_options is not None else prices.PriceOptions()
        self.request_log: list[dict] = []
        self._lock = threading.Lock()
        self._fault_rng = random.Random(self.faults.seed)
        self._fault_rng_plan = self.faults
        self._connections: set[socket.socket] = set()
        # requests waiting out their latency now, and the most at once: a client's concurrency as the
        # server sees it (counted before the answer is written, so a client's next request never overlaps)
        self.in_flight = 0
        self.peak_in_flight = 0

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
        return self._renamed(api.build_row(asset, epoch_hour, trades[0], amounts[0], self.timestamp_unit))

    def _renamed(self, row: dict) -> dict:
        """The row with exchange_codes applied, as a copy (page rows are shared through a cache)."""
        if not self.exchange_codes or not row.get("exchanges"):
            return row
        exchanges = [{**entry, "exchange": self.exchange_codes.get(entry["exchange"], entry["exchange"])}
                     for entry in row["exchanges"]]
        return {**row, "exchanges": exchanges}

    # --- HTTP ---------------------------------------------------------------------------------------

    def process_request(self, request, client_address):
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        """A client that hung up mid-answer (a killed fetch) is normal here, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

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
            self._wait_latency()
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
                data_key = None
            else:
                envelope, data_key = self._answer(match.group(1), params, request_time)
        except api.ApiError as exc:
            return self._error(handler, url.path, params, exc.status, exc.message)
        if fault in ("nodata", "nulldata"):
            dropped = ("data", "continuation_token", "next_url")
            envelope = {k: v for k, v in envelope.items() if k not in dropped}
            if fault == "nulldata":
                envelope["data"] = None
            data_key = None
        self._record(url.path, params, 200)
        gzip_ok = "gzip" in handler.headers.get("Accept-Encoding", "")
        body = self._body(envelope, data_key, gzip_ok)
        return self._send(handler, 200, body, truncate=fault == "truncate", gzipped=gzip_ok)

    def _wait_latency(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            time.sleep(self.latency_s)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _body(self, envelope: dict, data_key, gzip_ok: bool) -> bytes:
        """The envelope as JSON (gzipped when asked). The rows' part is serialized once per page and kept:
        a gzip stream may be several members, so prefix + cached rows + suffix is one valid body."""
        if data_key is None:
            body = json.dumps(envelope).encode()
            return gzip.compress(body, compresslevel=1, mtime=0) if gzip_ok else body
        rows_gz = self._rows_gzip(data_key, envelope["data"])
        prefix, suffix = json.dumps({**envelope, "data": ROWS_SPLICE}).encode().split(
            json.dumps(ROWS_SPLICE).encode(), 1)
        if not gzip_ok:
            return prefix + gzip.decompress(rows_gz) + suffix
        return (gzip.compress(prefix, compresslevel=1, mtime=0) + rows_gz
                + gzip.compress(suffix, compresslevel=1, mtime=0))

    def _rows_gzip(self, data_key, rows: list) -> bytes:
        key = (data_key, tuple(sorted(self.exchange_codes.items())))
        with self._lock:
            cached = self._rows_cache.get(key)
            if cached is not None:
                self._rows_cache.move_to_end(key)
                return cached
        raw = json.dumps([self._renamed(row) for row in rows]).encode()
        packed = gzip.compress(raw, compresslevel=1, mtime=0)  # loopback: speed beats ratio
        with self._lock:
            self._rows_cache[key] = packed
            while len(self._rows_cache) > ROWS_CACHE_PAGES:
                self._rows_cache.popitem(last=False)
        return packed

    def _answer(self, asset: str, params: dict, request_time: datetime) -> tuple[dict, tuple | None]:
        """One page, and the key its rows are cached under (None when a fault replaced them); FaultPlan.chain
        bends the chain (see FaultPlan)."""
        source = self._source(asset)
        chain = self.faults.chain if asset in self.faults.chain_assets or not self.faults.chain_assets else ""
        token = params.get("continuation_token", "")
        past_the_end = False
        if chain in ("endless", "repeat") and token.startswith(ENDLESS_PREFIX):
            # endless-<inner token>.<more|done|again><nonce>: the inner token says where the real chain is
            inner, _, state = token[len(ENDLESS_PREFIX):].rpartition(".")
            query = api.decode_token(asset, inner, {})
            past_the_end = state.startswith("done")
            if state.startswith("again"):
                query = dataclasses.replace(query, cursor_hour=None)  # the first page, again
        elif token:
            query = api.decode_token(asset, token, params)
        else:
            query = api.parse_first_call(asset, params, self.now or request_time, self.data_start)
        if chain == "outside" and not token:  # follow-up tokens already carry the shifted range
            week = 7 * 24 * HOUR_S * 1000
            query = dataclasses.replace(query, start_ms=query.start_ms - week, end_ms=query.end_ms - week)
        envelope = api.answer(source, query, self.base_url, request_time)
        if past_the_end:
            envelope["data"] = []
        if chain in ("endless", "repeat"):
            self._wrap_token(envelope, asset, query, again=chain == "repeat")
        return envelope, None if past_the_end else (source, query)

    def _wrap_token(self, envelope: dict, asset: str, query: api.Query, *, again: bool) -> None:
        """Give the page a continuation token never seen before, whatever the real chain says."""
        with self._lock:
            self._endless += 1
            nonce = self._endless
        anchor = api.encode_token(dataclasses.replace(query, cursor_hour=query.cursor_hour or 0))
        real_next = envelope.get("continuation_token")
        if again:
            follow = f"{ENDLESS_PREFIX}{anchor}.again{nonce}"
        elif real_next:
            follow = f"{ENDLESS_PREFIX}{real_next}.more{nonce}"
        else:
            follow = f"{ENDLESS_PREFIX}{anchor}.done{nonce}"
        envelope["continuation_token"] = follow
        envelope["next_url"] = f"{self.base_url}{api.DATA_PATH}{asset}?continuation_token={follow}"

    def _error(self, handler, path, params, status, message, headers=None) -> None:
        self._record(path, params, status)
        body = json.dumps({"result": "error", "message": message}).encode()
        self._send(handler, status, body, headers=headers)

    def _send(self, handler: _Handler, status: int, body: bytes, headers=None, truncate=False,
              gzipped=False) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        if not gzipped and "gzip" in handler.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=1, mtime=0)  # loopback: speed beats ratio
            gzipped = True
        if gzipped:
            handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header(IDENTITY_HEADER, f"seed={self.seed}; revision={self.revision}")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if truncate:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(body[:len(body) // 2] if truncate else body)
