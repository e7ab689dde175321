"""Salesforce credentials, the OAuth client-credentials token, and the authenticated connection.

    SalesforceCredentials   SF_INSTANCE_URL with SF_ACCESS_TOKEN, or SF_CLIENT_ID + SF_CLIENT_SECRET (or all three)
    fetch_token()           POST {instance}/services/oauth2/token, grant_type=client_credentials
    org_id()                the id of the org a session belongs to: the identity URL of the token answer, else
                            GET /services/oauth2/userinfo, else the org prefix of the session id
    Connection              a simple-salesforce client on our own requests.Session: a timeout on every request,
                            bounded retries with backoff through an injected ``sleep`` (502/503/504, 403
                            REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW, connections that failed or dropped), one
                            session renewal on 401 INVALID_SESSION_ID, and ``api_calls``: the HTTP requests sent
                            to Salesforce (OAuth excluded)

simple-salesforce errors are translated here, at the boundary, into engine.errors: AuthenticationFailed,
Unreachable, RetriesExhausted, SalesforceApiError (``code`` is Salesforce's errorCode). Nothing here logs a
token, a secret or a record value: log lines name the call, the status and the error code.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.util.retry import Retry

from engine import metrics
from engine.errors import (
    AuthenticationFailed,
    ConfigError,
    MissingCredential,
    RetriesExhausted,
    SalesforceApiError,
    Unreachable,
)

T = TypeVar("T")
Sleep = Callable[[float], object]

MAX_ATTEMPTS = 5
BACKOFF_BASE = 1.0  # seconds before the first retry; doubled each time
BACKOFF_MAX = 30.0
RETRYABLE_STATUS = frozenset({502, 503, 504})
RETRYABLE_CODES = frozenset({"SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW"})
TOKEN_PATH = "/services/oauth2/token"
_VERSION_RE = re.compile(r"^\d{2,3}\.\d$")
_ORG_ID_RE = re.compile(r"^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")
_IDENTITY_RE = re.compile(r"/id/(00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)/")
_SESSION_ORG_RE = re.compile(r"^(00D[A-Za-z0-9]{12})!")


# ----------------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class SalesforceCredentials:
    """Where and how to reach the org. ``repr`` never shows the token or the secret."""

    instance_url: str
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    api_version: str = "59.0"

    def __post_init__(self) -> None:
        parts = urlsplit(self.instance_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"SF_INSTANCE_URL must be an https:// URL (simple-salesforce speaks HTTPS only), "
                              f"got {self.instance_url!r}")
        if not _VERSION_RE.match(self.api_version):
            raise ConfigError(f"Salesforce API version must look like '59.0', got {self.api_version!r}")
        if not (self.access_token or self.can_renew):
            raise ConfigError("Salesforce credentials need an access token or a client id and client secret")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SalesforceCredentials:
        """Read SF_INSTANCE_URL and SF_ACCESS_TOKEN or SF_CLIENT_ID + SF_CLIENT_SECRET; empty counts as unset."""

        def get(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        url = get("SF_INSTANCE_URL")
        if url is None:
            raise MissingCredential("SF_INSTANCE_URL", "the Salesforce org, e.g. https://acme.my.salesforce.com")
        token, client_id, secret = get("SF_ACCESS_TOKEN"), get("SF_CLIENT_ID"), get("SF_CLIENT_SECRET")
        if client_id and not secret:
            raise MissingCredential("SF_CLIENT_SECRET", "the secret of SF_CLIENT_ID's connected app")
        if secret and not client_id:
            raise MissingCredential("SF_CLIENT_ID", "the connected app that SF_CLIENT_SECRET belongs to")
        if not (token or client_id):
            raise MissingCredential("SF_ACCESS_TOKEN", "a Salesforce session; or set SF_CLIENT_ID and SF_CLIENT_SECRET")
        return cls(url.rstrip("/"), token, client_id, secret)

    @property
    def can_renew(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @property
    def token_url(self) -> str:
        return self.instance_url.rstrip("/") + TOKEN_PATH

    def __repr__(self) -> str:
        def hidden(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (f"SalesforceCredentials(instance_url={self.instance_url!r}, access_token={hidden(self.access_token)}, "
                f"client_id={self.client_id!r}, client_secret={hidden(self.client_secret)}, "
                f"api_version={self.api_version!r})")


# ------------------------------------------------------------------------------------- transport


class _TimeoutAdapter(HTTPAdapter):
    """A default timeout for every request, and one immediate reconnect when a connection cannot be made.

    Status-based retries are not urllib3's job here: Connection retries with the injected sleep, so tests
    never wait and every attempt is counted.
    """

    def __init__(self, timeout: float) -> None:
        retry = Retry(total=None, connect=1, read=False, redirect=False, status=False, other=False, backoff_factor=0)
        super().__init__(max_retries=retry)
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        try:
            return super().send(request, stream=stream, timeout=self._timeout if timeout is None else timeout,
                                verify=verify, cert=cert, proxies=proxies)
        except requests.RequestException:
            raise
        except OSError as exc:  # requests reads the CA bundle here: REQUESTS_CA_BUNDLE names a file it cannot use
            raise ConfigError(f"REQUESTS_CA_BUNDLE {verify}: cannot use it as a CA bundle: "
                              f"{exc.strerror or exc}") from exc


def build_session(timeout: float) -> requests.Session:
    """A requests.Session that trusts REQUESTS_CA_BUNDLE (trust_env) and never waits forever."""
    session = requests.Session()
    session.mount("https://", _TimeoutAdapter(timeout))
    session.mount("http://", _TimeoutAdapter(timeout))
    return session


def backoff_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    return float(min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_MAX))


def _root(url: str | bytes) -> str:
    # a request that requests prepared has a text URL; only a hand-built ``Request`` may hold bytes
    parts = urlsplit(url.decode("utf-8", "replace") if isinstance(url, bytes) else url)
    return f"{parts.scheme}://{parts.netloc}"


def _never_connected(exc: requests.RequestException) -> bool:
    """True when no byte reached the server (refused, DNS, connect timeout): safe to repeat any call."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, ConnectTimeoutError)


def _transient(exc: requests.RequestException) -> bool:
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout
                      | requests.exceptions.ChunkedEncodingError)


def api_error_of(exc: SalesforceError) -> tuple[int, str, str]:
    """(status, errorCode, message) of a simple-salesforce exception; the body is a list of errors or text."""
    content: Any = exc.content
    first = content[0] if isinstance(content, list) and content else content
    if isinstance(first, Mapping):
        code = str(first.get("errorCode") or first.get("error") or f"HTTP_{exc.status}")
        message = str(first.get("message") or first.get("error_description") or "")
        return exc.status, code, message
    return exc.status, f"HTTP_{exc.status}", str(content or "")[:300]


# ------------------------------------------------------------------------------------------ OAuth


@dataclass(frozen=True)
class Token:
    """What the OAuth answer gives: the session, the instance URL, the identity URL (which names the org)."""

    access_token: str
    instance_url: str
    identity: str | None = None

    def __repr__(self) -> str:
        return f"Token(access_token='***', instance_url={self.instance_url!r}, identity={self.identity!r})"


def org_of(identity: str | None, session: str | None) -> str | None:
    """The org id in an identity URL (``.../id/00D.../005...``), else in a session id's prefix (``00D...!``)."""
    found = _IDENTITY_RE.search(identity or "")
    if found:
        return found.group(1)
    prefix = _SESSION_ORG_RE.match(session or "")
    return prefix.group(1) if prefix else None


def fetch_token(session: requests.Session, credentials: SalesforceCredentials, sleep: Sleep,
                logger: logging.Logger) -> Token:
    """The OAuth 2.0 client-credentials flow: the session and the URLs the org answered with."""
    url = credentials.token_url
    form = {"grant_type": "client_credentials", "client_id": credentials.client_id or "",
            "client_secret": credentials.client_secret or ""}
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            response = session.post(url, data=form, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            _token_transport_failure(url, attempt, exc)
        else:
            if response.status_code not in RETRYABLE_STATUS:
                return _token_from(response, credentials)
            if attempt == MAX_ATTEMPTS:
                raise RetriesExhausted("salesforce", f"OAuth token endpoint {url} kept answering "
                                       f"{response.status_code}", response.status_code)
        delay = backoff_delay(attempt)
        logger.warning("salesforce OAuth token request failed (attempt %d of %d); retrying in %.1f s",
                       attempt, MAX_ATTEMPTS, delay,
                       extra={"event": "salesforce.retry", "service": "salesforce", "call": "oauth token",
                              "attempt": attempt, "wait_seconds": delay})
        metrics.retry("salesforce", "oauth")
        sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _token_transport_failure(url: str, attempt: int, exc: requests.RequestException) -> None:
    if isinstance(exc, requests.exceptions.SSLError):
        raise Unreachable("salesforce", f"OAuth token request to {url}: TLS handshake with {_root(url)} failed "
                          "(is its CA in REQUESTS_CA_BUNDLE?)") from exc
    if not _transient(exc):
        raise Unreachable("salesforce", f"cannot send the OAuth request to {url}: {type(exc).__name__}") from exc
    if attempt == MAX_ATTEMPTS:
        if _never_connected(exc):
            raise Unreachable("salesforce", f"cannot connect to {url}") from exc
        raise RetriesExhausted("salesforce", f"OAuth token request to {url}: {type(exc).__name__}") from exc


def _token_from(response: requests.Response, credentials: SalesforceCredentials) -> Token:
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, Mapping) else {}
    token = body.get("access_token")
    if response.status_code == 200 and isinstance(token, str) and token:
        instance = body.get("instance_url")
        usable = instance if isinstance(instance, str) and instance.startswith("https://") else None
        identity = body.get("id")
        return Token(token, (usable or credentials.instance_url).rstrip("/"),
                     identity if isinstance(identity, str) else None)
    code = str(body.get("error") or f"HTTP_{response.status_code}")
    reason = str(body.get("error_description") or body.get("error") or "no access token in the answer")
    secret = credentials.client_secret or ""
    if secret:
        reason = reason.replace(secret, "***")
    raise AuthenticationFailed("salesforce", f"OAuth client credentials refused by {credentials.token_url}: "
                               f"{reason}", response.status_code, code)


# ------------------------------------------------------------------------------------ connection


class Connection:
    """One authenticated simple-salesforce client, renewed on expiry, with bounded retries and a call count."""

    def __init__(self, credentials: SalesforceCredentials, *, timeout: float, sleep: Sleep,
                 logger: logging.Logger) -> None:
        self.credentials = credentials
        self.api_calls = 0
        self._sleep = sleep
        self._log = logger
        self._session = build_session(timeout)
        self._session.hooks["response"].append(self._count)
        self._client: Salesforce | None = None
        self._identity: str | None = None
        self._org_id: str | None = None

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if not response.request.path_url.startswith(TOKEN_PATH):
            self.api_calls += 1
            metrics.api_call("salesforce", response.status_code)

    def close(self) -> None:
        self._session.close()

    # -- the client

    def client(self) -> Salesforce:
        if self._client is None:
            if self.credentials.access_token:
                self._client = self._build(self.credentials.access_token, self.credentials.instance_url)
            else:
                self._client = self._from_token(fetch_token(self._session, self.credentials, self._sleep, self._log))
        return self._client

    def _from_token(self, token: Token) -> Salesforce:
        self._identity = token.identity
        return self._build(token.access_token, token.instance_url)

    def org_id(self) -> str:
        """The id of the org the session belongs to (``00D...``), asked once.

        From the identity URL of the token answer; with a given access token, from the OpenID
        Connect ``userinfo`` endpoint, else the org prefix every Salesforce session id starts with.
        """
        if self._org_id is None:
            client = self.client()
            org = org_of(self._identity, None)
            if org is None:
                info = self.call("userinfo", lambda sf: sf.oauth2("userinfo"))
                found = info.get("organization_id") if isinstance(info, Mapping) else None
                org = found if isinstance(found, str) and _ORG_ID_RE.match(found) else None
            org = org or org_of(None, client.session_id)
            if org is None:
                raise SalesforceApiError("cannot tell which org the session belongs to: neither the token answer nor "
                                         "/services/oauth2/userinfo names it", code="NO_ORG_ID")
            self._org_id = org
        return self._org_id

    def _build(self, token: str, instance_url: str) -> Salesforce:
        return Salesforce(instance_url=instance_url, session_id=token, session=self._session,
                          version=self.credentials.api_version)

    def _renew(self, what: str, exc: SalesforceExpiredSession, again: bool) -> None:
        if again:
            raise AuthenticationFailed("salesforce", f"{what}: the renewed session was refused too "
                                       "(INVALID_SESSION_ID)", 401, "INVALID_SESSION_ID") from exc
        if not self.credentials.can_renew:
            raise AuthenticationFailed("salesforce", f"{what}: the access token is expired or invalid; set "
                                       "SF_CLIENT_ID and SF_CLIENT_SECRET so the session can be renewed", 401,
                                       "INVALID_SESSION_ID") from exc
        self._log.info("salesforce session expired; renewing it with the client credentials",
                       extra={"event": "salesforce.token_renewal"})
        self._client = self._from_token(fetch_token(self._session, self.credentials, self._sleep, self._log))

    # -- one call, retried

    def call(self, what: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run `fn` on the client; retry what is transient, renew an expired session once, translate errors.

        `idempotent` False: a call whose request may have reached Salesforce is not repeated after a dropped
        connection or a timeout (refusals such as 503 are still retried: Salesforce did nothing).
        """
        renewed = False
        attempt = 1
        while True:
            try:
                return fn(self.client())
            except SalesforceExpiredSession as exc:
                self._renew(what, exc, renewed)
                renewed = True
                continue
            except SalesforceError as exc:
                reason = self._api_failure(what, attempt, exc)
            except requests.exceptions.InvalidJSONError as exc:
                raise SalesforceApiError(f"{what}: the request or the answer is not valid JSON",
                                         code="INVALID_JSON") from exc
            except requests.RequestException as exc:
                reason = self._transport_failure(what, attempt, exc, idempotent)
            self._wait(what, attempt, reason)
            attempt += 1

    def _api_failure(self, what: str, attempt: int, exc: SalesforceError) -> str:
        """Raise what is final; else the retry's reason (the error code, or the HTTP status)."""
        status, code, message = api_error_of(exc)
        if status not in RETRYABLE_STATUS and code not in RETRYABLE_CODES:
            self._log.info("salesforce %s: HTTP %s %s", what, status, code)
            raise SalesforceApiError(f"{what}: {message}", status, code) from exc
        if attempt >= MAX_ATTEMPTS:
            raise RetriesExhausted("salesforce", f"{what}: {message} (after {attempt} attempts)", status,
                                   code) from exc
        return f"HTTP {status} {code}"

    def _transport_failure(self, what: str, attempt: int, exc: requests.RequestException, idempotent: bool) -> str:
        """Raise what is final; else the retry's reason (the kind of transport failure)."""
        metrics.api_call("salesforce", None)
        root = _root(exc.request.url or "") if exc.request is not None else self.credentials.instance_url
        kind = type(exc).__name__
        if isinstance(exc, requests.exceptions.SSLError):
            raise Unreachable("salesforce", f"{what}: TLS handshake with {root} failed (is its CA in "
                              "REQUESTS_CA_BUNDLE?)") from exc
        never = _never_connected(exc)
        if not _transient(exc):
            raise Unreachable("salesforce", f"cannot send {what} to {root}: {kind}") from exc
        if not never and not idempotent:
            raise RetriesExhausted("salesforce", f"{what}: {kind} from {root}; not repeated, the call is not "
                                   "idempotent") from exc
        if attempt >= MAX_ATTEMPTS:
            if never:
                raise Unreachable("salesforce", f"cannot connect to {root} ({what}, {attempt} attempts)") from exc
            raise RetriesExhausted("salesforce", f"{what}: {kind} from {root} (after {attempt} attempts)") from exc
        return f"{kind} talking to {root}"

    def _wait(self, what: str, attempt: int, reason: str) -> None:
        delay = backoff_delay(attempt)
        self._log.warning("salesforce %s: %s on attempt %d of %d; retrying in %.1f s (exponential back-off)", what,
                          reason, attempt, MAX_ATTEMPTS, delay,
                          extra={"event": "salesforce.retry", "service": "salesforce", "call": what,
                                 "attempt": attempt, "max_attempts": MAX_ATTEMPTS, "wait_seconds": delay,
                                 "reason": reason})
        code = reason.rsplit(" ", 1)[-1] if reason.startswith("HTTP ") else "connection"
        metrics.retry("salesforce", code)
        if code == "REQUEST_LIMIT_EXCEEDED":
            metrics.rate_limit_wait("salesforce", "request_limit", delay)
        self._sleep(delay)
