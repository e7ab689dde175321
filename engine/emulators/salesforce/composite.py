"""The Composite resource: ``POST /composite``, up to 25 subrequests in one call, run in order.

    {"allOrNone": false, "compositeRequest": [{"method", "url", "referenceId", "body"?}, ...]}
    -> {"compositeResponse": [{"body", "httpHeaders", "httpStatusCode", "referenceId"}, ...]}

A subrequest's ``url`` is a data resource of this API (``/services/data/vNN.0/sobjects/...``,
``query``, ``composite/sobjects``), run as that resource runs alone; its answer is the
subresponse, a created record's with a ``Location`` header. ``@{ref.path}`` in a later url or
body stands for a value of an earlier answer (``@{NewAccount.id}``, ``@{Q.records[0].Id}``); a
reference to an answer that failed or has no such value halts the subrequest with
``PROCESSING_HALTED``. With ``allOrNone`` the first failure stops the request and rolls back every
write: the failed subrequest keeps its error, every other one answers 400 ``PROCESSING_HALTED``.
The whole call counts as one API request, as in Salesforce.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from engine.emulators.salesforce.catalog import SfError, SfRequestError
from engine.emulators.salesforce.store import Org

MAX_SUBREQUESTS = 25
ROLLED_BACK = "The transaction was rolled back since another operation in the same transaction failed."
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}")


@dataclass(frozen=True)
class Answer:
    """What one data resource answered: status, JSON body (None: no content) and headers."""

    status: int
    body: Any
    headers: dict[str, str]


# (method, path, query, body bytes) -> the answer of that data resource
Dispatch = Callable[[str, str, dict[str, str], bytes], Answer]


def _halted(message: str) -> Answer:
    return Answer(400, [{"errorCode": "PROCESSING_HALTED", "message": message}], {})


def _subrequests(body: Any) -> list[dict[str, Any]]:
    requests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise SfRequestError(400, SfError("JSON_PARSER_ERROR", "The request body must have a compositeRequest array"))
    if len(requests) > MAX_SUBREQUESTS:
        raise SfRequestError(400, SfError(
            "INVALID_API_INPUT", f"Composite requests can have at most {MAX_SUBREQUESTS} subrequests"))
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("method", "url",
                                                                                          "referenceId")):
            raise SfRequestError(400, SfError("JSON_PARSER_ERROR",
                                              "Each subrequest needs a method, a url and a referenceId"))
        if item["referenceId"] in seen:
            raise SfRequestError(400, SfError("INVALID_API_INPUT",
                                              f"Duplicate referenceId provided in the request: {item['referenceId']}"))
        seen.add(item["referenceId"])
    return requests


def run(org: Org, body: Any, dispatch: Dispatch) -> dict[str, Any]:
    """``POST /composite``: every subrequest in order, under the org's lock."""
    requests = _subrequests(body)
    all_or_none = bool(body.get("allOrNone", False))
    with org.lock:
        snapshot = org.snapshot() if all_or_none else None
        answers: dict[str, Answer] = {}
        out: list[dict[str, Any]] = []
        failed = False
        for item in requests:
            reference = item["referenceId"]
            answer = _halted(ROLLED_BACK) if failed else _one(item, answers, dispatch)
            answers[reference] = answer
            if all_or_none and answer.status >= 400 and not failed:
                failed = True
            out.append({"body": answer.body, "httpHeaders": answer.headers, "httpStatusCode": answer.status,
                        "referenceId": reference})
        if failed and snapshot is not None:
            org.restore(snapshot)
            for entry in out:
                if entry["httpStatusCode"] < 400:
                    entry.update(body=_halted(ROLLED_BACK).body, httpHeaders={}, httpStatusCode=400)
    return {"compositeResponse": out}


def _one(item: dict[str, Any], answers: dict[str, Answer], dispatch: Dispatch) -> Answer:
    try:
        url = _resolve(item["url"], answers)
        body = _resolve_json(item.get("body"), answers)
    except LookupError as missing:
        return _halted(f"Invalid reference specified. No value for {missing.args[0]} found in the answers before "
                       f"it. Provided referenceId ('{item['referenceId']}') must match a referenceId of an earlier "
                       "subrequest.")
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    raw = b"" if body is None else json.dumps(body).encode()
    return dispatch(item["method"].upper(), parts.path, query, raw)


def _lookup(reference: str, path: str, answers: dict[str, Answer]) -> Any:
    answer = answers.get(reference)
    if answer is None or answer.status >= 400:
        raise LookupError(f"{reference}{path}")
    value = answer.body
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            raise LookupError(f"{reference}{path}") from None
    return value


def _resolve(text: str, answers: dict[str, Answer]) -> str:
    return _REFERENCE.sub(lambda m: str(_lookup(m[1], m[2], answers)), text)


def _resolve_json(value: Any, answers: dict[str, Answer]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        return _lookup(whole[1], whole[2], answers) if whole else _resolve(value, answers)
    if isinstance(value, dict):
        return {k: _resolve_json(v, answers) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_json(v, answers) for v in value]
    return value
