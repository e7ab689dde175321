"""Paging of the Zoom emulator's list endpoints, per endpoint as Zoom's specifications say.

Each endpoint's rule comes from the shipped schema index (``schemas/zoom/index.json``): the
``page_size`` maximum its spec states (2,000 for ``GET /users`` in the 2026 Users spec, 100 for
``GET /phone/users``, 300 elsewhere), which of ``next_page_token`` and ``page_number`` its query
takes (``GET /users/{userId}/webinars`` takes only ``page_number``; a ``next_page_token`` sent there
is ignored, as any unknown parameter), and which paging keys its response declares. ``page_size``
defaults to 30; over the maximum it is cut to the maximum; 0, a negative or a non-number is
refused (300, "Validation Failed.").

A ``next_page_token`` is opaque: a MAC over the route, the query's filters and the offset, then
the offset. A token of another route or other filters is refused (300).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.emulators.zoom.errors import ZoomError, invalid_field
from engine.zoom.schemas import SourceIndex

DEFAULT_PAGE_SIZE = 30
DEFAULT_PAGE_SIZE_MAX = 300
PAGING_KEYS = ("page_count", "page_number", "page_size", "total_records", "next_page_token")
Record = dict[str, Any]


@dataclass(frozen=True)
class PagingRule:
    """How one list endpoint pages."""

    page_size_max: int = DEFAULT_PAGE_SIZE_MAX
    tokens: bool = True
    page_numbers: bool = False
    keys: frozenset[str] = frozenset(PAGING_KEYS)


def paging_rules(index: SourceIndex) -> dict[str, PagingRule]:
    """The rule of every paginated endpoint of the index, by name (``"GET /users"``)."""
    rules: dict[str, PagingRule] = {}
    for name in index.endpoint_names():
        endpoint = index.endpoint(name)
        if endpoint is None or not endpoint.paginated:
            continue
        declared = endpoint.response.get("properties", {})
        rules[name] = PagingRule(
            page_size_max=endpoint.page_size_max or DEFAULT_PAGE_SIZE_MAX,
            tokens="next_page_token" in endpoint.query_params,
            page_numbers="page_number" in endpoint.query_params,
            keys=frozenset(key for key in PAGING_KEYS if key in declared),
        )
    return rules


class Pager:
    """Lays out pages as Zoom does and signs their tokens with the emulator's key."""

    def __init__(self, key: bytes, rules: Mapping[str, PagingRule]) -> None:
        self._key = key
        self._rules = dict(rules)

    def rule(self, route: str) -> PagingRule:
        return self._rules.get(route, PagingRule())

    def page_size(self, route: str, query: Mapping[str, str]) -> int:
        limit = self.rule(route).page_size_max
        raw = query.get("page_size")
        if raw is None or raw == "":
            return min(DEFAULT_PAGE_SIZE, limit)
        if not raw.isdigit() or int(raw) < 1:
            raise invalid_field("page_size", f"Invalid field: page_size must be between 1 and {limit}.")
        return min(int(raw), limit)

    def page(self, route: str, params: Mapping[str, str], query: Mapping[str, str], records: Sequence[Record],
             records_key: str, *, scope: str = "", head: Record | None = None) -> Record:
        """One page of `records` as Zoom lays it out; `scope` ties the page token to the query's filters."""
        rule = self.rule(route)
        size = self.page_size(route, query)
        total = len(records)
        scope = f"{scope}|{sorted(params.items())}"
        token = (query.get("next_page_token") or "") if rule.tokens else ""
        number = query.get("page_number", "") if rule.page_numbers else ""
        if token:
            offset = self._decode(route, scope, token, total)
        elif number.isdigit() and int(number) > 0:
            offset = (int(number) - 1) * size
        else:
            offset = 0
        next_offset = offset + size
        paging: Record = {
            "page_count": -(-total // size),
            "page_number": offset // size + 1,
            "page_size": size,
            "total_records": total,
            "next_page_token": self._encode(route, scope, next_offset) if next_offset < total else "",
        }
        body: Record = dict(head or {})
        body |= {key: value for key, value in paging.items() if key in rule.keys}
        body[records_key] = list(records[offset:next_offset])
        return body

    def _mac(self, route: str, scope: str, offset: int) -> bytes:
        return hmac.new(self._key, f"{route}|{scope}|{offset}".encode(), hashlib.sha256).digest()[:18]

    def _encode(self, route: str, scope: str, offset: int) -> str:
        return base64.urlsafe_b64encode(self._mac(route, scope, offset) + offset.to_bytes(6, "big")).decode()

    def _decode(self, route: str, scope: str, token: str, total: int) -> int:
        invalid = ZoomError(400, 300, "The next page token is invalid or expired.")
        try:
            raw = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid from None
        offset = int.from_bytes(raw[18:], "big")
        if len(raw) != 24 or not hmac.compare_digest(raw[:18], self._mac(route, scope, offset)) or offset > total:
            raise invalid
        return offset
