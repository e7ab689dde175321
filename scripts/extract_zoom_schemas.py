"""Extract self-contained JSON Schemas for Zoom's REST responses and webhook events.

Reads the OpenAPI subsets and the webhook event schemas in ``reference/zoom/`` and writes
``schemas/zoom/``: one JSON Schema (draft 2020-12) per endpoint response (and POST request body),
one per webhook event, and ``index.json`` that lists them with their scopes, rate-limit label,
pagination and parameters. The output is deterministic: a second run changes nothing.

Usage: python scripts/extract_zoom_schemas.py [--reference DIR] [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT / "reference" / "zoom"
DEFAULT_OUT = ROOT / "schemas" / "zoom"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
GENERATOR = "scripts/extract_zoom_schemas.py"

# OpenAPI files, in order of preference: an endpoint is taken from the first file that has it,
# so the 2023 Meeting API only fills in what the 2025 Meetings spec lacks.
OPENAPI_SPECS = (
    "meetings-api.2025-06.ballerina.subset.json",
    "meeting-api.2023-10.subset.json",
    "users-api.2026-02.subset.json",
    "phone-api.2024-12.subset.json",
    "recordings-api.2026-03.ballerina.subset.json",
)
# List endpoints whose records cannot be told from the response alone: GET /meetings/{meetingId}/recordings
# has two arrays of objects; the recording's files are its records (participant_audio_files are each
# participant's own audio, a separate option).
RECORDS_OVERRIDES = {"GET /meetings/{meetingId}/recordings": "recording_files"}
# Webhook event schemas: the Rivet SDK's 23 events, and a supplement converted from the same file and
# commit by the same rules (webinar.updated, the one event that carries a webinar's registration_url).
EVENTS_SPECS = ("webhook-events.rivet-0.3.0.schema.json", "webhook-events.rivet-0.3.0.supplement.schema.json")
PROVENANCE_KEYS = (
    "source_repo",
    "source_path",
    "source_paths",
    "source_commit",
    "source_commit_date",
    "package_version",
)

JsonObject = dict[str, Any]

# Keywords copied as they are; structure (properties, items, allOf, oneOf, ...) is rebuilt.
KEPT_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "enum",
        "description",
        "title",
        "example",
        "default",
        "deprecated",
        "required",
        "maxLength",
        "minLength",
        "maximum",
        "minimum",
        "maxItems",
        "minItems",
        "uniqueItems",
        "pattern",
        "x-enum-descriptions",
        "x-rivet-type",
        "x-source-file",
    }
)
SUCCESS_STATUSES = ("200", "201")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
SCOPE_TEXT = re.compile(r"\*\*\[?(Granular Scopes|Scopes)\]?(?:\([^)]*\))?:\*\*([^\n]*)")
RATE_TEXT = re.compile(r"Rate Limit Label\]?(?:\([^)]*\))?:\*\*\s*`([^`]+)`")
BACKTICKED = re.compile(r"`([^`]+)`")


# --- dereferencing ------------------------------------------------------------------------------


class Inliner:
    """Turns an OpenAPI 3.0 schema into a self-contained JSON Schema: refs inlined, allOf merged."""

    def __init__(self, document: JsonObject) -> None:
        self.document = document

    def inline(self, node: Any, stack: tuple[str, ...] = ()) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        if "$ref" in node:
            return self._inline_ref(node, stack)
        if "allOf" in node:
            return self._inline_all_of(node, stack)
        return self._inline_plain(node, stack)

    def _inline_ref(self, node: JsonObject, stack: tuple[str, ...]) -> JsonObject:
        ref = node["$ref"]
        if ref in stack:
            raise ValueError(f"recursive $ref {ref} (through {' -> '.join(stack)})")
        target = self.inline(resolve_pointer(self.document, ref), (*stack, ref))
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return merge_schemas([self.inline(siblings, stack), target]) if siblings else target

    def _inline_all_of(self, node: JsonObject, stack: tuple[str, ...]) -> JsonObject:
        own = self._inline_plain({key: value for key, value in node.items() if key != "allOf"}, stack)
        return merge_schemas([own, *(self.inline(branch, stack) for branch in node["allOf"])])

    def _inline_plain(self, node: JsonObject, stack: tuple[str, ...]) -> JsonObject:
        out: JsonObject = {key: copy.deepcopy(value) for key, value in node.items() if key in KEPT_KEYWORDS}
        if "properties" in node:
            out["properties"] = {name: self.inline(sub, stack) for name, sub in node["properties"].items()}
        if "items" in node:
            out["items"] = self.inline(node["items"], stack)
        if "additionalProperties" in node:
            out["additionalProperties"] = self.inline(node["additionalProperties"], stack)
        for keyword in ("oneOf", "anyOf"):
            if keyword in node:
                out[keyword] = [self.inline(branch, stack) for branch in node[keyword]]
        extensions = node.get("extensions")
        if isinstance(extensions, dict) and "x-enum-descriptions" in extensions:
            out.setdefault("x-enum-descriptions", copy.deepcopy(extensions["x-enum-descriptions"]))
        if node.get("nullable") is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out


def resolve_pointer(document: JsonObject, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, not {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def merge_schemas(schemas: Iterable[JsonObject]) -> JsonObject:
    """allOf as one schema: properties and required unioned, other keywords first-come."""
    merged: JsonObject = {}
    for schema in schemas:
        for key, value in schema.items():
            if key not in merged:
                merged[key] = copy.deepcopy(value)
            elif key == "properties":
                merged[key] = _merge_properties(merged[key], value)
            elif key == "required":
                merged[key] = [*merged[key], *(name for name in value if name not in merged[key])]
    return merged


def _merge_properties(first: JsonObject, second: JsonObject) -> JsonObject:
    out = dict(first)
    for name, schema in second.items():
        out[name] = merge_schemas([out[name], schema]) if name in out else copy.deepcopy(schema)
    return out


# --- operations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: str
    document: JsonObject
    body: JsonObject

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def file_stem(self) -> str:
        segments = [segment.strip("{}") for segment in self.path.strip("/").split("/")]
        return "rest/" + "__".join([self.method.lower(), *segments])


def iter_operations(reference: Path) -> Iterator[Operation]:
    """Every path + method of the OpenAPI subsets; the first file that has an operation wins."""
    seen: set[str] = set()
    for spec in OPENAPI_SPECS:
        document = load_json(reference / spec)
        for path, item in document["paths"].items():
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                operation = Operation(method, path, spec, document, _with_path_parameters(item, method))
                if operation.name not in seen:
                    seen.add(operation.name)
                    yield operation


def _with_path_parameters(item: JsonObject, method: str) -> JsonObject:
    body = dict(item[method])
    shared = item.get("parameters", [])
    if shared:
        body["parameters"] = [*shared, *body.get("parameters", [])]
    return body


def success_schema(operation: Operation) -> tuple[str, JsonObject]:
    responses = operation.body["responses"]
    for status in SUCCESS_STATUSES:
        if status in responses:
            response = _deref(operation.document, responses[status])
            return status, _json_schema_of(operation.document, response, f"{operation.name} {status}")
    raise ValueError(f"{operation.name}: no 200/201 response in {operation.spec}")


def request_schema(operation: Operation) -> JsonObject | None:
    if operation.method != "post" or "requestBody" not in operation.body:
        return None
    body = _deref(operation.document, operation.body["requestBody"])
    return _json_schema_of(operation.document, body, f"{operation.name} request body")


def _json_schema_of(document: JsonObject, container: JsonObject, what: str) -> JsonObject:
    content = container.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), None)
    if media is None or "schema" not in media:
        raise ValueError(f"{what}: no JSON schema")
    return Inliner(document).inline(media["schema"])


def _deref(document: JsonObject, node: JsonObject) -> JsonObject:
    while "$ref" in node:
        node = resolve_pointer(document, node["$ref"])
    return node


def parameters(operation: Operation, location: str) -> list[JsonObject]:
    found = (_deref(operation.document, param) for param in operation.body.get("parameters", []))
    return [param for param in found if param.get("in") == location]


def path_parameter_names(path: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", path)


def page_size_max(operation: Operation) -> int | None:
    for param in parameters(operation, "query"):
        if param["name"] == "page_size":
            maximum = param.get("schema", {}).get("maximum")
            return int(maximum) if maximum is not None else None
    return None


def scopes(operation: Operation) -> dict[str, list[str]]:
    """Classic and granular scopes from the operation's extensions and its description text."""
    extensions = operation.body.get("x-extensions") or operation.body.get("extensions") or {}
    classic = set(extensions.get("x-macro-scopes", []))
    granular = set(extensions.get("x-granular-scopes", []))
    for label, text in SCOPE_TEXT.findall(operation.body.get("description", "")):
        (granular if label.startswith("Granular") else classic).update(BACKTICKED.findall(text))
    return {"classic": sorted(classic), "granular": sorted(granular)}


def rate_limit(operation: Operation) -> str | None:
    match = RATE_TEXT.search(operation.body.get("description", ""))
    return match.group(1).strip().capitalize() if match else None


def records_property(operation: Operation, response: JsonObject) -> str | None:
    """Where a list endpoint keeps its records: the array named like the path's last segment, or
    the only array of objects in the response. Endpoints ending with an ID return one record."""
    if operation.name in RECORDS_OVERRIDES:
        return RECORDS_OVERRIDES[operation.name]
    last = operation.path.rstrip("/").rsplit("/", 1)[-1]
    if operation.method != "get" or last.startswith("{"):
        return None
    arrays = [
        name
        for name, schema in response.get("properties", {}).items()
        if schema.get("type") == "array" and schema.get("items", {}).get("type") == "object"
    ]
    if last in arrays:
        return last
    if len(arrays) > 1:
        raise ValueError(f"{operation.name}: cannot tell which of {arrays} holds the records")
    return arrays[0] if arrays else None


# --- output -------------------------------------------------------------------------------------


def schema_file(schema: JsonObject, comment: str) -> JsonObject:
    return {"$schema": DRAFT, "$comment": comment, **schema}


def endpoint_files(operation: Operation) -> tuple[JsonObject, dict[str, JsonObject]]:
    status, response = success_schema(operation)
    files = {
        f"{operation.file_stem}.json": schema_file(
            response, f"{operation.name} -> {status} response body, from {operation.spec}. Generated by {GENERATOR}."
        )
    }
    request = request_schema(operation)
    request_file = None
    if request is not None:
        request_file = f"{operation.file_stem}.request.json"
        files[request_file] = schema_file(
            request, f"{operation.name} request body, from {operation.spec}. Generated by {GENERATOR}."
        )
    entry = {
        "response": f"{operation.file_stem}.json",
        "status": int(status),
        "request": request_file,
        "spec": operation.spec,
        "operationId": operation.body.get("operationId"),
        "summary": operation.body.get("summary"),
        "records": records_property(operation, response),
        "paginated": "next_page_token" in response.get("properties", {}),
        "page_size_max": page_size_max(operation),
        "deprecated": bool(operation.body.get("deprecated", False)),
        "scopes": scopes(operation),
        "rate_limit": rate_limit(operation),
        "path_params": path_parameter_names(operation.path),
        "query_params": [param["name"] for param in parameters(operation, "query")],
    }
    return entry, files


def event_files(reference: Path) -> tuple[dict[str, JsonObject], dict[str, JsonObject]]:
    entries: dict[str, JsonObject] = {}
    files: dict[str, JsonObject] = {}
    for spec in EVENTS_SPECS:
        document = load_json(reference / spec)
        for name, schema in document["events"].items():
            if name in entries:
                raise ValueError(f"event {name} is in two event files ({spec} and an earlier one)")
            relative = f"events/{name}.json"
            inlined = Inliner(document).inline(schema)
            files[relative] = schema_file(
                inlined, f"Zoom webhook event {name}, from {spec}. Generated by {GENERATOR}."
            )
            entries[name] = {"schema": relative, "object_path": object_path(name, inlined)}
    return entries, files


def object_path(name: str, schema: JsonObject) -> str:
    payload = schema.get("properties", {}).get("payload", {})
    if "object" not in payload.get("properties", {}):
        raise ValueError(f"event {name}: no payload.object")
    return "payload.object"


def provenance(reference: Path) -> JsonObject:
    sources = {}
    for spec in (*OPENAPI_SPECS, *EVENTS_SPECS):
        raw = (reference / spec).read_bytes()
        block = json.loads(raw).get("x-zoomforce-provenance", {})
        entry = {key: block[key] for key in PROVENANCE_KEYS if key in block}
        entry["sha256"] = hashlib.sha256(raw).hexdigest()
        sources[spec] = entry
    return {
        "generator": GENERATOR,
        "regenerate": "python scripts/extract_zoom_schemas.py",
        "preference": list(OPENAPI_SPECS),
        "sources": sources,
    }


def build(reference: Path) -> dict[str, JsonObject]:
    """Every file to write, by path relative to the output folder."""
    endpoints: dict[str, JsonObject] = {}
    files: dict[str, JsonObject] = {}
    for operation in iter_operations(reference):
        entry, written = endpoint_files(operation)
        endpoints[operation.name] = entry
        files.update(written)
    events, event_schemas = event_files(reference)
    files.update(event_schemas)
    files["index.json"] = {"x-zoomforce-provenance": provenance(reference), "endpoints": endpoints, "events": events}
    return files


def render(data: JsonObject) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_json(path: Path) -> JsonObject:
    return json.loads(path.read_text(encoding="utf-8"))


def generated_files(out: Path) -> set[str]:
    """The files a previous run wrote (README.md and other hand-written files are not touched)."""
    found = {"index.json"} if (out / "index.json").exists() else set()
    for folder in ("rest", "events"):
        found.update(path.relative_to(out).as_posix() for path in (out / folder).glob("*.json"))
    return found


def write(out: Path, texts: dict[str, str]) -> None:
    for stale in sorted(generated_files(out) - texts.keys()):
        (out / stale).unlink()
    for relative, text in texts.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


def differences(out: Path, texts: dict[str, str]) -> list[str]:
    problems = [f"stale: {name}" for name in sorted(generated_files(out) - texts.keys())]
    for relative, text in sorted(texts.items()):
        target = out / relative
        if not target.exists():
            problems.append(f"missing: {relative}")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"out of date: {relative}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="folder of Zoom reference specs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (schemas/zoom)")
    parser.add_argument("--check", action="store_true", help="fail if the output folder is out of date")
    args = parser.parse_args(argv)
    if not args.reference.is_dir():
        print(f"reference folder not found: {args.reference}", file=sys.stderr)
        return 2
    texts = {relative: render(data) for relative, data in build(args.reference).items()}
    if args.check:
        problems = differences(args.out, texts)
        for problem in problems:
            print(f"{args.out}: {problem}", file=sys.stderr)
        return 1 if problems else 0
    write(args.out, texts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
