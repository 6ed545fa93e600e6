"""Kaiko's liquidation endpoint over one shared `requests.Session`.

Retries of 429/5xx answers and network faults live on the session's adapter (`urllib3.util.Retry`, with
backoff, jitter and `Retry-After`). A body cut off mid-read, or a 200 whose body is not JSON, arrives after
urllib3 has handed the response over, so `PageChain` retries only that case itself, with the same backoff
and within the same attempt budget; a 200 with `data: null` is retried the same way. Other 4xx answers
fail at once. The API key travels only in the `X-Api-Key` header: messages show URLs without their query
or credentials, and any text quoted from the API is redacted.

A chain is bounded (`ChainBounds`): more pages than its range can need, a row outside the range or a page
seen before stops it with a FetchError, so a server that never stops cannot run a fetch forever.
"""

from __future__ import annotations

import contextlib
import json
import math
import operator
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from report.errors import FetchError
from report.fetch.ratelimit import TokenBucket
from report.fetch.windows import FetchRange, FetchWindow, bucket_start
from report.settings import Settings, interval_hours, public_url
from report.simulator.server import IDENTITY_HEADER

ENDPOINT = "liquidation.v1/token"
RETRY_STATUSES = (429, 500, 502, 503, 504)
BACKOFF_FACTOR = 0.5  # seconds: 0, 1, 2, 4, 8 … between consecutive failures
BACKOFF_JITTER = 0.25
BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 60  # a Retry-After beyond this is treated as this
CONNECT_TIMEOUT_S = 10.0
QUIET_WAIT_S = 0.05
AUTH_HINT = "set KAIKO_API_KEY to a valid key (or unset it to run on the built-in simulator)"


class PacedRetry(Retry):
    """urllib3's Retry that also takes a token from the shared rate limit before each retry."""

    limiter: TokenBucket | None = None

    def new(self, **kw):
        retry = super().new(**kw)
        retry.limiter = self.limiter
        return retry

    def sleep(self, response=None) -> None:
        super().sleep(response)
        if self.limiter is not None:
            self.limiter.acquire()

    def parse_retry_after(self, retry_after: str) -> float:
        # RFC 9110 allows whole seconds or an HTTP date; proxies also send "0.5". Anything else: back off.
        try:
            return min(max(float(retry_after), 0.0), float(self.retry_after_max))
        except ValueError:
            pass
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0


def build_session(settings: Settings, limiter: TokenBucket | None = None, *,
                  backoff_factor: float = BACKOFF_FACTOR) -> requests.Session:
    """One session for every thread: retries and a connection pool sized to the concurrency.

    `backoff_factor` is the only knob beyond Settings: tests shrink it to keep fault runs fast.
    """
    retry = PacedRetry(
        total=settings.max_attempts - 1,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=backoff_factor,
        backoff_jitter=BACKOFF_JITTER,
        backoff_max=BACKOFF_MAX,
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX,
        raise_on_status=False,
        raise_on_redirect=False,
        redirect=0,
    )
    retry.limiter = limiter
    adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=settings.concurrency)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.auth = settings.api_auth  # user:password@ of --base-url, sent only to that root (same_origin)
    return session


def backoff_seconds(session: requests.Session, url: str, consecutive_failures: int) -> float:
    """The schedule of the session's own Retry (urllib3's formula), for the failures urllib3 cannot see."""
    retry = session.get_adapter(url).max_retries
    factor = getattr(retry, "backoff_factor", BACKOFF_FACTOR)
    jitter = getattr(retry, "backoff_jitter", BACKOFF_JITTER)
    ceiling = getattr(retry, "backoff_max", BACKOFF_MAX)
    if consecutive_failures <= 1:
        return 0.0
    return min(ceiling, factor * 2 ** (consecutive_failures - 1) + random.random() * jitter)


def adapter_attempts(session: requests.Session, url: str) -> int:
    """How many attempts the session's adapter makes before it gives up on a network error."""
    total = getattr(session.get_adapter(url).max_retries, "total", 0)
    return total + 1 if isinstance(total, int) and not isinstance(total, bool) else 1


def same_origin(url: str, root: str) -> bool:
    def origin(parts):
        return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)

    return origin(urlsplit(url)) == origin(urlsplit(root))


@dataclass(frozen=True)
class Page:
    number: int
    url: str  # without query
    raw: bytes  # the body as received, after gzip decoding
    body: object  # parsed JSON: a dict for a well-formed page
    from_simulator: bool = False  # the answer carried the built-in simulator's identity header
    starts: list | None = None  # each data row's bucket start (windows.bucket_start), parsed once

    @property
    def rows(self) -> int:
        data = self.body.get("data") if isinstance(self.body, dict) else None
        return len(data) if isinstance(data, list) else 0

    @property
    def answer_time(self) -> str | None:
        return self.body.get("answer_time") if isinstance(self.body, dict) else None


class MalformedPage(FetchError):
    """A 200 whose body is still not JSON after every attempt: its bytes go to quarantine."""

    def __init__(self, number: int, raw: bytes, reason: str):
        super().__init__(reason)
        self.number, self.raw, self.reason = number, raw, reason


class ChainError(FetchError):
    """The chain broke its bounds (ChainBounds): its pagination cannot be trusted, so neither can any window
    it marked complete."""


class ApiUnreachable(FetchError):
    """Every attempt to connect failed: the other windows would only wait out the same retries."""


class KaikoClient:
    def __init__(self, settings: Settings, session: requests.Session, limiter: TokenBucket | None = None,
                 sort: str = "asc"):
        self.settings = settings
        self.session = session
        self.limiter = limiter
        self.sort = sort  # the API's default is desc; we always say which
        self.timeout = (min(CONNECT_TIMEOUT_S, settings.timeout_s), settings.timeout_s)
        self.in_flight = threading.BoundedSemaphore(settings.concurrency)
        self._receiving = 0
        self._quiet = threading.Condition()

    @contextlib.contextmanager
    def receiving(self):
        with self._quiet:
            self._receiving += 1
        try:
            yield
        finally:
            with self._quiet:
                self._receiving -= 1
                if not self._receiving:
                    self._quiet.notify_all()

    def wait_for_quiet(self, timeout_s: float = QUIET_WAIT_S) -> None:
        with self._quiet:
            self._quiet.wait_for(lambda: not self._receiving, timeout_s)

    def endpoint(self, asset: str) -> str:
        return f"{self.settings.api_root}/v2/data/{ENDPOINT}/{asset}"

    def first_params(self, window: FetchWindow | FetchRange) -> dict:
        return {"interval": window.interval, "page_size": self.settings.page_size, "sort": self.sort,
                "start_time": window.start_time, "end_time": window.end_time}

    def headers(self) -> dict:
        return {"X-Api-Key": self.settings.api_key or "", "Accept": "application/json",
                "Accept-Encoding": "gzip"}

    def pages(self, window: FetchWindow | FetchRange) -> PageChain:
        return PageChain(self, window)

    def redact(self, text: str) -> str:
        secrets = [self.settings.api_key, *(self.settings.api_auth or ())]
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


@dataclass
class ChainBounds:
    """What one chain of [start, end) can hold: a page beyond it, a row outside it or a repeat is a fault.

    A correct answer needs ceil(buckets ÷ page_size) pages; two more allow for a last empty page and a
    bucket straddling the start.
    """

    start: datetime
    end: datetime
    interval: str
    page_size: int
    seen: set[int] = field(default_factory=set)

    @property
    def buckets(self) -> int:
        return math.ceil((self.end - self.start) / timedelta(hours=interval_hours(self.interval)))

    @property
    def max_pages(self) -> int:
        return math.ceil(self.buckets / self.page_size) + 2

    def problem(self, number: int, body, starts: list | None = None) -> str | None:
        """Why page `number` (1-based) breaks the chain, or None; a malformed page is page_problem's job.
        `starts`: the rows' bucket starts (windows.bucket_start), when parsed already."""
        if number > self.max_pages:
            return (f"the chain went on past {self.max_pages} pages, more than {self.buckets} "
                    f"{self.interval} buckets at page_size {self.page_size} can need")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            return None
        digest = row_digest(data)
        if digest in self.seen:
            return f"page {number} repeats the rows of an earlier page"
        self.seen.add(digest)
        outside = self.first_outside(data, starts)
        if outside:
            return (f"page {number} holds a row for {outside}, outside the requested "
                    f"{_z(self.start)} … {_z(self.end)}")
        return None

    def first_outside(self, rows: list, starts: list | None = None) -> str | None:
        """The first row whose bucket does not overlap the range (rows without a time are page_problem's)."""
        earliest = self.start - timedelta(hours=interval_hours(self.interval))
        for row, moment in zip(rows, starts if starts is not None else map(bucket_start, rows), strict=True):
            if moment is not None and not earliest < moment < self.end:
                return str(row.get("interval_time"))
        return None


def row_digest(rows: list) -> int:
    """What identifies a page's rows cheaply: each row's time and totals (a page repeated by a broken chain
    repeats them exactly; distinct pages of one chain never share them all). A hash within one process."""
    try:
        return hash(tuple(map(ROW_IDENTITY, rows)))
    except (KeyError, TypeError):  # a row without those keys, or not a dict: page_problem's business
        return hash(tuple(repr(row) for row in rows))


ROW_IDENTITY = operator.itemgetter("interval_time", "total_trades", "total_amount")


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PageChain:
    """The pages of one window in order: the first query, then each `next_url` exactly as returned.

    Counts its HTTP requests and retries for the fetch summary.
    """

    def __init__(self, client: KaikoClient, window: FetchWindow | FetchRange):
        self.client = client
        self.window = window
        self.next_request: tuple[str, dict | None] | None = (client.endpoint(window.asset),
                                                              client.first_params(window))
        self.bounds = ChainBounds(window.start, window.end, window.interval, client.settings.page_size)
        self.pages_read = 0
        self.requests = 0
        self.retries = 0
        self._followed: set[str] = set()

    @property
    def where(self) -> str:
        """'btc, window 2025-02-03 … 2025-02-10' (or 'btc, range …' for several weeks) for messages."""
        return f"{self.window.asset}, {self.window.kind} {self.window.describe()}"

    def __iter__(self) -> Iterator[Page]:
        while self.next_request is not None:
            url, params = self.next_request
            raw, body, from_simulator = self._get(url, params)
            self.pages_read += 1
            data = body.get("data") if isinstance(body, dict) else None
            starts = list(map(bucket_start, data)) if isinstance(data, list) else None
            problem = self.bounds.problem(self.pages_read, body, starts)
            if problem:
                raise ChainError(f"Kaiko API chain for {self.where} stopped: {problem}; none of its "
                                 "windows is marked complete, try again later or check the API root "
                                 "(--base-url).")
            self.next_request = self._follow_up(body)
            yield Page(self.pages_read, public_url(url), raw, body, from_simulator, starts)

    def _follow_up(self, body) -> tuple[str, dict | None] | None:
        if not isinstance(body, dict):
            return None
        next_url, token = body.get("next_url"), body.get("continuation_token")
        if next_url and same_origin(str(next_url), self.client.settings.api_root):
            follow = (str(next_url), None)
        elif token:
            follow = (self.client.endpoint(self.window.asset), {"continuation_token": str(token)})
        elif next_url:
            # The key goes with every request: never to a host other than the configured API root.
            raise FetchError(f"Kaiko API sent a next page on another host ({public_url(str(next_url))}) for "
                             f"{self.where}: refused to send the key there; check the API root "
                             "(--base-url / KAIKO_BASE_URL).")
        else:
            return None
        marker = f"{follow[0]}|{follow[1]}"
        if marker in self._followed:
            raise FetchError(f"Kaiko API sent the same continuation twice for {self.where}: stopped to avoid "
                             "a loop; try again later.")
        self._followed.add(marker)
        return follow

    def _get(self, url: str, params: dict | None) -> tuple[bytes, object, bool]:
        """One page, retrying bodies cut off mid-read, 200s that are not JSON and `data: null` within the
        attempt budget. Returns the raw body, the parsed body and whether the simulator sent it."""
        budget = self.client.settings.max_attempts
        attempts = 0
        failures = 0
        while True:
            if self.client.limiter is not None:
                self.client.limiter.acquire()
            # at most `concurrency` requests in flight: a slot is held from the request to the last byte of
            # the body, not while the page is parsed and landed, so meanwhile another chain's request is on
            # the network (the fetch runs more chains than it has slots)
            with self.client.in_flight:
                raw, problem, from_simulator, attempts = self._exchange(url, params, attempts)
            if problem is None:
                self.client.wait_for_quiet()
                try:
                    body = parse_page(raw)
                except ValueError:
                    problem = "HTTP 200 with a body that is not JSON"
                else:
                    if not (isinstance(body, dict) and "data" in body and body["data"] is None):
                        return raw, body, from_simulator
                    problem = "HTTP 200 with `data: null`"  # retried like a cut-off body, then quarantined
            failures += 1
            if attempts >= budget:
                if raw is not None:
                    raise MalformedPage(self.pages_read + 1, raw, problem)
                raise self._exhausted(url, attempts, problem)
            self.retries += 1
            time.sleep(backoff_seconds(self.client.session, url, failures))

    def _exchange(self, url: str, params: dict | None,
                  attempts: int) -> tuple[bytes | None, str | None, bool, int]:
        """One request and its whole body (the adapter's retries included): (raw body or None, why it could
        not be read, whether the simulator sent it, attempts so far). Refusals and network failures raise."""
        try:
            response = self.client.session.get(url, params=params, headers=self.client.headers(),
                                               timeout=self.client.timeout, stream=True)
        except (requests.ConnectionError, requests.Timeout) as exc:
            exhausted = isinstance(exc.args[0] if exc.args else None, MaxRetryError)
            tries = adapter_attempts(self.client.session, url) if exhausted else 1
            attempts += tries
            self.requests += tries
            self.retries += tries - 1
            error = self._exhausted(url, attempts, network_problem(exc, self.client.timeout))
            if isinstance(exc, requests.ConnectTimeout) or isinstance(_reason(exc), NewConnectionError):
                raise ApiUnreachable(str(error)) from None
            raise error from None
        with response:
            history = len(response.raw.retries.history) if getattr(response.raw, "retries", None) else 0
            attempts += 1 + history
            self.requests += 1 + history
            self.retries += history
            with self.client.receiving():
                raw, problem = read_body(response)
            if raw is not None and response.status_code != 200:
                raise self._refusal(url, response, raw, attempts)
            return raw, problem, IDENTITY_HEADER in response.headers, attempts

    def _exhausted(self, url: str, attempts: int, problem: str) -> FetchError:
        return FetchError(f"GET {public_url(url)} ({self.window.kind} {self.window.label}) failed after "
                          f"{attempts} attempt{'s' if attempts != 1 else ''}: {self.client.redact(problem)}")

    def _refusal(self, url: str, response: requests.Response, raw: bytes, attempts: int) -> FetchError:
        status = response.status_code
        message = self.client.redact(api_message(raw) or response.reason or "no message")
        if status in RETRY_STATUSES:
            return self._exhausted(url, attempts, f"HTTP {status} {message}")
        text = (f"Kaiko API answered {status} for {self.where}: "
                f"{message.rstrip('.')}")
        if status in (401, 403):
            text += f"; {AUTH_HINT}"
        return FetchError(text + ".")


# Parsing a page is most of the client's own work a page (a 1,000-row page is ~1.4 MB of JSON): orjson
# parses it in about half the time of the standard library (bench/README.md, fetch). Like the standard
# parser it raises a ValueError (orjson.JSONDecodeError) for a body that is not JSON; unlike it, it refuses
# NaN and Infinity, which page_problem refuses anyway.
parse_page = orjson.loads


# requests reads a body 10 KB at a time; each read waits for the GIL behind the threads landing pages, so a
# 1.4 MB page took up to ~150 ms to come in on a busy fetch. Large reads take it in a few.
BODY_CHUNK_BYTES = 1 << 20


def read_body(response: requests.Response) -> tuple[bytes | None, str | None]:
    """The whole (gzip-decoded) body, or None and why it could not be read."""
    try:
        return b"".join(response.iter_content(chunk_size=BODY_CHUNK_BYTES)), None
    except requests.exceptions.ContentDecodingError:
        return None, "the gzip body could not be decoded (cut off?)"
    except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as exc:
        return None, f"the body was cut off mid-read ({type(_reason(exc)).__name__})"


def api_message(raw: bytes) -> str | None:
    """The `message` of Kaiko's JSON error body, else a short printable excerpt."""
    try:
        body = json.loads(raw)
    except ValueError:
        text = raw[:200].decode("utf-8", "replace").strip()
        return " ".join(text.split()) or None
    if isinstance(body, dict) and body.get("message"):
        return " ".join(str(body["message"]).split())
    return None


def _reason(exc: BaseException) -> BaseException:
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    return getattr(inner, "reason", None) or inner


def network_problem(exc: BaseException, timeout: tuple[float, float]) -> str:
    """Describe a network failure without urllib3's text, which quotes the URL and its query."""
    reason = _reason(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect within {timeout[0]:g}s"
    if isinstance(reason, ReadTimeoutError) or isinstance(exc, requests.ReadTimeout):
        return f"no answer within {timeout[1]:g}s"
    if isinstance(reason, NewConnectionError):
        return "could not connect (is the API root right and reachable?)"
    if isinstance(reason, ProtocolError):
        return "the connection was closed without an answer"
    return f"network error ({type(reason).__name__})"
