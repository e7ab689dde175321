"""Zoom's error answers, as the Zoom emulator sends them: ``{"code", "message"}`` (and ``errors``).

The 429 answers follow Zoom's documentation (``developers.zoom.us/docs/api/``, rate limits): a
per-second limit sends ``X-RateLimit-Category`` and ``X-RateLimit-Type: QPS`` and no
``Retry-After``; a daily limit of a rate-limit label sends ``X-RateLimit-Type: Daily-limit``,
``X-RateLimit-Limit``, ``X-RateLimit-Remaining: 0`` and ``Retry-After`` as an ISO-8601 time (the
next 00:00 UTC). The per-registrant and per-user daily limits answer with the messages Zoom's
developer forum reports, and none of those headers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
DAILY_MESSAGE = ("You have reached the maximum daily rate limit for this API. Refer to the response header for "
                 "details on when you can make another request.")
REGISTRANT_LIMIT_MESSAGE = ("You have exceeded the daily rate limit of ({limit}) for Add a webinar registrant API "
                            "requests for the registrant ({email}). You can resume these API requests at GMT 00:00:00.")
USER_WRITE_LIMIT_MESSAGE = ("You have exceeded the daily rate limit ({limit}) of {kind} Create/Update API requests "
                            "permitted for this particular user. You may resume these requests at GMT 00:00:00.")


class ZoomError(Exception):
    """A Zoom API error: ``{"code", "message"}`` with an HTTP status (and ``errors`` for validation)."""

    def __init__(self, status: int, code: int, message: str, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers = errors, headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid_field(field_name: str, message: str = "Invalid field.") -> ZoomError:
    return ZoomError(400, 300, "Validation Failed.", [{"field": field_name, "message": message}])


def user_not_found(key: str) -> ZoomError:
    return ZoomError(404, 1001, f"User does not exist: {key}.")


def meeting_not_found(key: str) -> ZoomError:
    return ZoomError(404, 3001, f"Meeting does not exist: {key}.")


def webinar_not_found(key: str) -> ZoomError:
    return ZoomError(404, 3001, f"Webinar does not exist: {key}.")


def qps_limited(category: str) -> ZoomError:
    """A per-second limit: Zoom's documented example has no ``Retry-After``."""
    return ZoomError(429, 429, QPS_MESSAGE, headers={"X-RateLimit-Category": category, "X-RateLimit-Type": "QPS"})


def daily_limited(category: str, limit: int, resets_at: datetime) -> ZoomError:
    """The daily limit of a rate-limit label: ``Retry-After`` is the ISO time it resets (00:00 UTC)."""
    headers = {"X-RateLimit-Category": category, "X-RateLimit-Type": "Daily-limit", "X-RateLimit-Limit": str(limit),
               "X-RateLimit-Remaining": "0", "Retry-After": resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return ZoomError(429, 429, DAILY_MESSAGE, headers=headers)


def registrant_limited(limit: int, email: str) -> ZoomError:
    return ZoomError(429, 429, REGISTRANT_LIMIT_MESSAGE.format(limit=limit, email=email))


def user_write_limited(limit: int, kind: str) -> ZoomError:
    return ZoomError(429, 429, USER_WRITE_LIMIT_MESSAGE.format(limit=limit, kind=kind))
