"""The Zoom REST API client: Server-to-Server OAuth, bounded retries, pagination by ``next_page_token``
(or by ``page_number`` where an endpoint's spec offers nothing else).

One ``httpx.Client`` per ``ZoomClient`` (connections are reused) and an explicit timeout on every
request. Every failure leaves as one of the errors of ``engine.errors``, keeping the httpx cause:

    connect error / connect timeout on every attempt   -> Unreachable (names the URL)
    OAuth answers 4xx, or no access token               -> AuthenticationFailed (the server's reason)
    API 401 again after one token renewal               -> AuthenticationFailed
    429, 5xx, timeout or reset on every attempt         -> RetriesExhausted (names the path, last status)
    a 429 whose wait is longer than ``max_wait``        -> RetriesExhausted (names the Retry-After)
    a 429 with ``X-RateLimit-Type: Daily-limit``        -> DailyLimitReached at once (exit 3: the run stops)
    a 429 of a per-user or per-registrant daily limit   -> ZoomApiError at once (that one request, not the run)
    404 (or Zoom code 1001 / 3001)                      -> ZoomNotFound
    any other 4xx, a body that is not a JSON object     -> ZoomApiError

Neither the client secret nor an access token is ever logged or put in an error message; the
token travels only in the ``Authorization`` header. Log records go to the ``zoomforce.zoom`` logger:
method, path (without query), status, attempt and wait. Every retry is a warning (``zoom.retry``,
with the wait and its reason: ``Retry-After``, the rate-limit type, or back-off), every token
renewal an info (``zoom.token_renewal``); every request and retry is counted in :mod:`engine.metrics`.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from engine import metrics
from engine.errors import (
    AuthenticationFailed,
    ConfigError,
    DailyLimitReached,
    MissingCredential,
    PathParameterError,
    RetriesExhausted,
    Unreachable,
    ZoomApiError,
    ZoomNotFound,
)
from engine.language.safe_json import loads, loads_certified
from engine.zoom.throttle import Throttle

LOGGER_NAME = "zoomforce.zoom"
# A JSON object read from Zoom and the length of its text when it is certified (safe_json.loads_certified:
# the records in it need no record check), else None.
Certified = tuple[dict[str, Any], int | None]
DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"
TOKEN_EARLY_RENEWAL = 60.0  # seconds before ``expires_in`` at which a cached token is renewed
NOT_FOUND_CODES = frozenset({"1001", "3001"})  # user / meeting or webinar does not exist
_SNIPPET = 200

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_METHOD_PREFIX = re.compile(r"^[A-Za-z]+\s+(?=/)")


# ---- credentials and policy -----------------------------------------------------------------


@dataclass(frozen=True)
class ZoomCredentials:
    """A Server-to-Server OAuth app's credentials and the URLs to use them at."""

    account_id: str
    client_id: str
    client_secret: str
    api_url: str = DEFAULT_API_URL
    oauth_url: str = DEFAULT_OAUTH_URL

    def __repr__(self) -> str:
        return (
            f"ZoomCredentials(account_id={self.account_id!r}, client_id={self.client_id!r}, client_secret='***', "
            f"api_url={self.api_url!r}, oauth_url={self.oauth_url!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ZoomCredentials:
        """Read ``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``, ``ZOOM_CLIENT_SECRET`` (+ optional URLs) from `env`."""
        app = "of the Zoom Server-to-Server OAuth app"
        return cls(
            account_id=_required(env, "ZOOM_ACCOUNT_ID", f"the account {app}"),
            client_id=_required(env, "ZOOM_CLIENT_ID", f"the client ID {app}"),
            client_secret=_required(env, "ZOOM_CLIENT_SECRET", f"the client secret {app}"),
            api_url=env.get("ZOOM_API_URL", "").strip() or DEFAULT_API_URL,
            oauth_url=env.get("ZOOM_OAUTH_URL", "").strip() or DEFAULT_OAUTH_URL,
        )


def _required(env: Mapping[str, str], variable: str, purpose: str) -> str:
    value = env.get(variable, "").strip()
    if not value:
        raise MissingCredential(variable, purpose)
    return value


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry 429, 5xx, timeouts and connection failures.

    ``max_attempts`` counts every request of one call (a token renewal after a 401 is not counted);
    ``max_wait`` is the longest wait a server may ask for (``Retry-After``) before the call gives up.
    """

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, not {self.max_attempts}")

    def backoff_cap(self, attempt: int) -> float:
        """The longest back-off after failed attempt `attempt` (1-based): base * 2**(attempt-1), capped."""
        return min(self.backoff_max, self.backoff_base * 2.0 ** min(attempt - 1, 60))

    def backoff(self, attempt: int, uniform: Callable[[float, float], float] = random.uniform) -> float:
        """Exponential back-off with full jitter: uniform in [0, backoff_cap(attempt)]."""
        return uniform(0.0, self.backoff_cap(attempt))


DEFAULT_RETRY = RetryPolicy()


# ---- paths ----------------------------------------------------------------------------------


def endpoint_path(template: str, values: Mapping[str, Any]) -> str:
    """Fill the ``{name}`` parameters of `template` (``"GET /past_meetings/{meetingId}"`` or the bare path).

    Each value is URL-encoded whole (``/``, ``=``, ``+``, ``@`` ... included); one that starts with
    ``/`` or contains ``//`` is encoded twice, as Zoom requires for such meeting UUIDs. Integers
    (64-bit meeting IDs) are written as their exact digits.
    """
    path = _METHOD_PREFIX.sub("", template.strip(), count=1)
    return _PLACEHOLDER.sub(lambda match: _path_segment(match.group(1), values, template), path)


def _path_segment(name: str, values: Mapping[str, Any], template: str) -> str:
    value = values.get(name)
    if value is None or value == "":
        state = "missing" if name not in values else "null" if value is None else "empty"
        raise _path_error(name, template, f"is {state}")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _path_error(name, template, f"must be a string or an integer, not {type(value).__name__} {value!r}")
    text = str(value)
    if text in (".", ".."):  # a dot segment: the URL would name another endpoint
        raise _path_error(name, template, f"cannot be {text!r} (a dot segment of the path)")
    encoded = quote(text, safe="")
    if text.startswith("/") or "//" in text:
        encoded = quote(encoded, safe="")
    return encoded


def _path_error(name: str, template: str, problem: str) -> PathParameterError:
    return PathParameterError(
        reason=f"path parameter '{name}' of {template} {problem}",
        details={"parameter": name, "template": template},
    )


# ---- what the server asked for --------------------------------------------------------------


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: seconds, an HTTP date or an ISO-8601 time; None if unreadable."""
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        when = _parse_time(text)
        return None if when is None else max(0.0, (when - now).total_seconds())
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def requested_wait(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds a 429 (or 5xx) response asks to wait: ``Retry-After``, else the ``X-RateLimit-Type``.

    A per-second (``QPS``) limit clears within a second; a daily one at 00:00 UTC. None when the
    response says neither: the caller backs off.
    """
    retry_after = headers.get("retry-after")
    if retry_after:
        seconds = retry_after_seconds(retry_after, now)
        if seconds is not None:
            return seconds
    kind = headers.get("x-ratelimit-type", "").strip().lower()
    if kind.startswith("daily"):
        midnight = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
        return (midnight - now).total_seconds()
    if kind == "qps":
        return 1.0
    return None


# ---- the client -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    renew_at: float  # on the client's clock


T = TypeVar("T")


@dataclass
class _Request:
    method: str
    path: str  # for logs and errors: the path without any query string
    url: str
    params: dict[str, Any] | None
    json: Any = field(repr=False)
    renewed_token: bool = False
    token: str = field(default="", repr=False)


class _Retry(Exception):
    """A failure that another attempt may cure; `wait` is what the server asked for (None: back off)."""

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        wait: float | None = None,
        connect_url: str = "",
        cause: BaseException | None = None,
        why_wait: str = "",
        limit: str = "",
    ):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.wait = wait
        self.connect_url = connect_url  # set when no connection could be made at all
        self.cause = cause
        self.why_wait = why_wait  # what set the wait: "Retry-After: 1", "X-RateLimit-Type: QPS"
        self.limit = limit  # for a 429, the limit's kind: qps, daily, or "" when the answer does not say

    @property
    def metric_reason(self) -> str:
        if self.status == 429:
            return "429"
        if self.status is not None:
            return f"{self.status // 100}xx"
        return "connection" if self.connect_url else "timeout"


class ZoomClient:
    """Calls the Zoom API with one shared connection pool, a cached OAuth token and bounded retries."""

    def __init__(
        self,
        credentials: ZoomCredentials,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.credentials = credentials
        self.retry = retry
        self._timeout = httpx.Timeout(timeout)
        self._sleep = sleep
        self._clock = clock
        self._owns_http = http is None
        self._http = http if http is not None else _http_client(self._timeout)
        self._log = logger or logging.getLogger(LOGGER_NAME)
        self._token: _Token | None = None
        self._token_lock = threading.Lock()
        self.api_calls = 0
        self.token_requests = 0
        self._renewals = 0
        self._count_lock = threading.Lock()
        # per-label buckets and a cap on requests in flight (engine.zoom.throttle); None: unthrottled
        self.throttle: Throttle | None = None

    def __repr__(self) -> str:
        return f"ZoomClient({self.credentials.api_url!r}, account_id={self.credentials.account_id!r})"

    # ---- public calls ----

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.call("GET", path, params=params)

    def get_certified(self, path: str, params: Mapping[str, Any] | None = None) -> Certified:
        """:meth:`get`, with the length of the response's text when it is certified
        (``safe_json.loads_certified``: its records need no record check), else None."""
        return self.call_certified("GET", path, params=params)

    def post(self, path: str, json: Any) -> dict[str, Any]:
        return self.call("POST", path, json=json)

    def paginate(
        self, path: str, records: str, params: Mapping[str, Any] | None = None, page_size: int = 300,
        *, by_page_number: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every record under `records` of every page, following ``next_page_token``, or with
        `by_page_number` asking ``page_number`` 1, 2 ... (an endpoint whose spec pages only so).

        A ``page_size`` in `params` wins over `page_size`; a page without `records` yields nothing.
        """
        for record, _ in self.paginate_certified(path, records, params, page_size, by_page_number=by_page_number):
            yield record

    def paginate_certified(
        self, path: str, records: str, params: Mapping[str, Any] | None = None, page_size: int = 300,
        *, by_page_number: bool = False,
    ) -> Iterator[Certified]:
        """:meth:`paginate`, each record with the length of its page's text when the page is certified
        (the record's own text is no longer), else None."""
        for items, length in self.pages_certified(path, records, params, page_size, by_page_number=by_page_number):
            yield from ((item, length) for item in items)

    def pages_certified(
        self, path: str, records: str, params: Mapping[str, Any] | None = None, page_size: int = 300,
        *, by_page_number: bool = False,
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """The records of every page of :meth:`paginate`, page by page, each page with the length of its
        text when it is certified, else None."""
        query: dict[str, Any] = {"page_size": page_size, **(params or {})}
        if by_page_number:
            yield from self._pages_by_number(path, records, query)
            return
        seen: set[str] = set()
        while True:
            page, length = self.get_certified(path, query)
            yield _page_records(page, records, path), length
            token = page.get("next_page_token")
            if not token:
                return
            token = str(token)
            if token in seen:
                raise ZoomApiError(f"next_page_token {token!r} came back twice; stopping to avoid a loop", path=path)
            seen.add(token)
            query = {**query, "next_page_token": token}

    def _pages_by_number(self, path: str, records: str, query: dict[str, Any]
                         ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """Pages 1, 2 ... until ``page_count`` (or a short or empty page) says there is no more."""
        number = 1
        while True:
            page, length = self.get_certified(path, {**query, "page_number": number})
            items = _page_records(page, records, path)
            yield items, length
            count = page.get("page_count")
            size = page.get("page_size") or query.get("page_size")
            last = number >= count if isinstance(count, int) else not items or (
                isinstance(size, int) and len(items) < size)
            if last or not items:
                return
            number += 1

    def call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        """Send one API request (`path` relative to ``api_url``), retrying as the policy allows; the JSON object."""
        return self.call_certified(method, path, params=params, json=json)[0]

    def call_certified(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Certified:
        """:meth:`call`, with the length of the response's text when it is certified, else None."""
        request = _Request(method.upper(), path.partition("?")[0], self._url(path), _clean(params), json)
        return self._retrying(request, lambda attempt: self._attempt(request, attempt))

    def _retrying(self, request: _Request, attempt_once: Callable[[int], T]) -> T:
        failures: list[_Retry] = []
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return attempt_once(attempt)
            except _Retry as failure:
                failures.append(failure)
                if attempt < self.retry.max_attempts:
                    self._pause(request, failure, attempt)
        raise _gave_up(request, failures) from failures[-1].cause

    # ---- lifecycle ----

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ZoomClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ---- one attempt ----

    def _url(self, path: str) -> str:
        return self.credentials.api_url.rstrip("/") + "/" + path.lstrip("/")

    def _attempt(self, request: _Request, attempt: int) -> Certified:
        response = self._send(request, attempt)
        if response.status_code == 401 and not request.renewed_token:
            request.renewed_token = True
            self._log.info("zoom %s %s: HTTP 401, renewing the access token", request.method, request.path,
                           extra={"event": "zoom.token_rejected", "service": "zoom", "path": request.path})
            self._forget_token(request.token)
            response = self._send(request, attempt)
        return self._interpret(request, response)

    def _send(self, request: _Request, attempt: int) -> httpx.Response:
        request.token = self._access_token()
        with self._count_lock:
            self.api_calls += 1
        try:
            with self.throttle.request(request.path) if self.throttle is not None else nullcontext():
                response = self._exchange(
                    request.method,
                    request.url,
                    params=request.params,
                    json=request.json,
                    headers={"Authorization": f"Bearer {request.token}", "Accept": "application/json"},
                )
        except (_Retry, Unreachable):
            metrics.api_call("zoom", None)
            raise
        metrics.api_call("zoom", response.status_code)
        self._log.debug("%s %s -> HTTP %d (attempt %d)", request.method, request.path, response.status_code, attempt)
        return response

    def _exchange(self, method: str, url: str, **options: Any) -> httpx.Response:
        """One HTTP exchange; httpx's transport errors become `_Retry` or `Unreachable`."""
        try:
            return self._http.request(method, url, timeout=self._timeout, **options)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _Retry(_describe(exc), connect_url=_without_query(url), cause=exc) from exc
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            raise _Retry(_describe(exc), cause=exc) from exc
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise Unreachable("zoom", f"cannot send a request to {_without_query(url)}: {_describe(exc)}") from exc

    def _interpret(self, request: _Request, response: httpx.Response) -> Certified:
        status = response.status_code
        if status == 429:
            _raise_daily_limit(request, response)
        if status == 429 or status >= 500:
            raise self._retryable(f"{request.method} {request.path}", response, f"HTTP {status}")
        if status >= 300:
            raise _api_error(request.path, response)
        return _json_object(request.path, response)

    def _retryable(self, label: str, response: httpx.Response, reason: str) -> _Retry:
        wait = requested_wait(response.headers, datetime.now(UTC))
        if wait is not None and wait > self.retry.max_wait:
            raise _wait_too_long(label, response, wait, self.retry.max_wait)
        headers = response.headers
        kind = (headers.get("x-ratelimit-type") or "").strip()
        category = (headers.get("x-ratelimit-category") or "").strip()
        if headers.get("retry-after") and wait is not None:
            why = f"Retry-After: {headers['retry-after']}"
        elif kind and wait is not None:
            why = f"X-RateLimit-Type: {kind}"
        else:
            why = ""
        if response.status_code == 429:
            limit = f"{category} {kind}".strip() or "unstated"
            reason = f"{reason} (rate limit: {limit})"
        limit_kind = "daily" if kind.lower().startswith("daily") else kind.lower() or ""
        return _Retry(reason, status=response.status_code, wait=wait, why_wait=why, limit=limit_kind)

    def _pause(self, request: _Request, failure: _Retry, attempt: int) -> None:
        wait = failure.wait if failure.wait is not None else self.retry.backoff(attempt)
        why = failure.why_wait or "exponential back-off"
        self._log.warning(
            "zoom %s %s: %s on attempt %d of %d; retrying in %.2f s (%s)",
            request.method,
            request.path,
            failure.reason,
            attempt,
            self.retry.max_attempts,
            wait,
            why,
            extra={"event": "zoom.retry", "service": "zoom", "method": request.method, "path": request.path,
                   "status": failure.status, "attempt": attempt, "max_attempts": self.retry.max_attempts,
                   "wait_seconds": round(wait, 3), "reason": why},
        )
        metrics.retry("zoom", failure.metric_reason)
        if failure.status == 429:
            kind = failure.limit or ("retry_after" if failure.why_wait else "backoff")
            metrics.rate_limit_wait("zoom", kind, wait)
            if self.throttle is not None:  # the other threads wait too, not only this request
                self.throttle.slow_down(request.path, wait)
        self._sleep(wait)

    # ---- the access token ----

    def authenticate(self) -> None:
        """Get an access token now (refused credentials fail here, before any data is read)."""
        url = _without_query(self.credentials.oauth_url)
        request = _Request("POST", url, url, {}, None)
        self._retrying(request, lambda attempt: self._access_token())

    def _access_token(self) -> str:
        with self._token_lock:
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                renewing = self.token_requests > 0
                token = self._token = self._fetch_token()
                if renewing:
                    self._renewals += 1
                    self._log.info("zoom: access token renewed for account %s (renewal %d)",
                                   self.credentials.account_id, self._renewals,
                                   extra={"event": "zoom.token_renewal", "service": "zoom"})
            return token.value

    def _forget_token(self, used: str) -> None:
        with self._token_lock:
            if self._token is not None and self._token.value == used:
                self._token = None

    def _fetch_token(self) -> _Token:
        creds = self.credentials
        url = _without_query(creds.oauth_url)
        self.token_requests += 1
        self._log.debug("requesting an access token from %s for account %s", url, creds.account_id)
        response = self._exchange(
            "POST",
            creds.oauth_url,
            auth=(creds.client_id, creds.client_secret),
            data={"grant_type": "account_credentials", "account_id": creds.account_id},
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise self._retryable(f"POST {url}", response, f"OAuth HTTP {response.status_code}")
        if response.status_code != 200:
            raise _oauth_refused(response, creds)
        return self._token_from(response, url)

    def _token_from(self, response: httpx.Response, url: str) -> _Token:
        body = _json_or_none(response)
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise AuthenticationFailed("zoom", f"the OAuth answer from {url} has no access_token", status=200)
        expires_in = _seconds(body.get("expires_in") if isinstance(body, dict) else None, default=3600.0)
        self._log.debug("access token received; it expires in %.0f s", expires_in)
        return _Token(value, self._clock() + max(0.0, expires_in - TOKEN_EARLY_RENEWAL))


# ---- responses ------------------------------------------------------------------------------


def _http_client(timeout: httpx.Timeout) -> httpx.Client:
    """An httpx client; a CA bundle (``SSL_CERT_FILE``, ``SSL_CERT_DIR``) that cannot be read is a ConfigError."""
    try:
        return httpx.Client(timeout=timeout)
    except (OSError, ssl.SSLError) as exc:
        where = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR") or "the system CA bundle"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"SSL_CERT_FILE {where}: cannot use it as a CA bundle: {reason}") from exc


def _page_records(page: dict[str, Any], records: str, path: str) -> list[dict[str, Any]]:
    items = page.get(records)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ZoomApiError(f"'{records}' is not a list of objects", path=path)
    return items


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        return None


def _json_object(path: str, response: httpx.Response) -> Certified:
    if response.status_code == 204 or not response.content:
        return {}, 2  # the text of {}: certified
    try:
        body, length = loads_certified(response.content)  # within the limits: one hostile record is its error
    except ValueError as exc:
        kind = response.headers.get("content-type", "no Content-Type")
        raise ZoomApiError(f"the response is not JSON ({kind})", status=response.status_code, path=path) from exc
    if not isinstance(body, dict):
        raise ZoomApiError(
            f"expected a JSON object, got a JSON {type(body).__name__}", status=response.status_code, path=path
        )
    return body, length


def _zoom_error(response: httpx.Response) -> tuple[str | None, str]:
    """Zoom's ``{"code", "message", "errors"?}`` body as (code, message); a text snippet when it is not JSON."""
    body = _json_or_none(response)
    if isinstance(body, dict) and ("code" in body or "message" in body):
        code = body.get("code")
        message = str(body.get("message") or response.reason_phrase)
        details = [f"{e.get('field')}: {e.get('message')}" for e in body.get("errors") or [] if isinstance(e, dict)]
        if details:
            message += " (" + "; ".join(details) + ")"
        return (None if code is None else str(code)), message
    snippet = response.text.strip()[:_SNIPPET]
    reason = response.reason_phrase or "error"
    return None, f"{reason}; the body is not Zoom's JSON error: {snippet!r}" if snippet else reason


def _api_error(path: str, response: httpx.Response) -> ZoomApiError | AuthenticationFailed:
    code, message = _zoom_error(response)
    status = response.status_code
    if status == 401:
        return AuthenticationFailed("zoom", f"{path}: {message} (after renewing the access token)", status, code)
    if status == 404 or code in NOT_FOUND_CODES:
        return ZoomNotFound(message, status=status, code=code, path=path)
    return ZoomApiError(message, status=status, code=code, path=path)


def _raise_daily_limit(request: _Request, response: httpx.Response) -> None:
    """A 429 that waiting seconds cannot cure: the account's daily limit of a label, or one user's or
    registrant's daily limit (Zoom says so in the message only; a retry before 00:00 UTC fails again)."""
    headers = response.headers
    code, message = _zoom_error(response)
    label = f"{request.method} {request.path}"
    if headers.get("x-ratelimit-type", "").strip().lower().startswith("daily"):
        category = headers.get("x-ratelimit-category")
        limit = headers.get("x-ratelimit-limit")
        resets = headers.get("retry-after") or "00:00 UTC"
        of = f" of {category} APIs" if category else ""
        size = f" ({limit} requests)" if limit else ""
        raise DailyLimitReached(
            f"{label}: the daily rate limit{of}{size} is used up ({message}); it resets at {resets}",
            category=category, limit=limit, resets_at=headers.get("retry-after"), path=request.path)
    if _DAILY_MESSAGE.search(message):
        raise ZoomApiError(message, status=429, code=code, path=request.path)


_DAILY_MESSAGE = re.compile(r"daily rate limit", re.IGNORECASE)


def _wait_too_long(label: str, response: httpx.Response, wait: float, max_wait: float) -> RetriesExhausted:
    headers = response.headers
    if headers.get("retry-after"):
        asked = f"Retry-After {headers['retry-after']}"
    else:
        asked = f"X-RateLimit-Type {headers.get('x-ratelimit-type')} (resets at 00:00 UTC)"
    category = headers.get("x-ratelimit-category")
    limit = f" for {category} APIs" if category else ""
    code, message = _zoom_error(response)
    return RetriesExhausted(
        "zoom",
        f"{label}: rate limited{limit} ({message}); {asked} means waiting {wait:.0f} s, "
        f"longer than the {max_wait:g} s this client waits",
        status=response.status_code,
        code=code,
    )


def _oauth_refused(response: httpx.Response, creds: ZoomCredentials) -> AuthenticationFailed:
    body = _json_or_none(response)
    fields = body if isinstance(body, dict) else {}
    reason = next(
        (str(fields[key]) for key in ("reason", "error_description", "message", "error") if fields.get(key)),
        response.text.strip()[:_SNIPPET] or response.reason_phrase,
    )
    if creds.client_secret:
        reason = reason.replace(creds.client_secret, "***")
    code = str(fields["error"]) if fields.get("error") else None
    return AuthenticationFailed(
        "zoom",
        f"{_without_query(creds.oauth_url)} refused the credentials of client {creds.client_id} "
        f"(account {creds.account_id}): {reason}",
        status=response.status_code,
        code=code,
    )


def _gave_up(request: _Request, failures: list[_Retry]) -> Unreachable | RetriesExhausted:
    last = failures[-1]
    attempts = f"{len(failures)} attempt{'s' if len(failures) > 1 else ''}"
    if all(failure.connect_url for failure in failures):
        return Unreachable("zoom", f"cannot connect to {last.connect_url} ({last.reason}; {attempts})")
    return RetriesExhausted(
        "zoom", f"{request.method} {request.path}: gave up after {attempts}; last: {last.reason}", status=last.status
    )


# ---- small helpers --------------------------------------------------------------------------


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    return {key: value for key, value in params.items() if value is not None}


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if math.isfinite(seconds) else default


def _without_query(url: str) -> str:
    return url.partition("?")[0]


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
