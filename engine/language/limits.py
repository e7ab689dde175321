"""Every size limit of zoomforce, in one place (documented in docs/limits.md).

A record, an event body or a mapping file over one of these is refused with a message that names
the limit (``limit: nesting depth 64``), never by running out of memory, time or Python's recursion
limit. The names in :data:`LIMIT_NAMES` are the ones messages and the documentation use.

Records (``map``, ``sync``, ``serve``, the reverse flow): a record over a limit becomes one
per-record error (a dead letter in ``sync`` and ``serve``) with its code, and the other records go on.
Mapping files (``validate`` and every command that loads the mappings): a file over a limit gets
one located error.
"""

from __future__ import annotations

# ---- records and JSON documents ------------------------------------------------------------

MAX_NESTING_DEPTH = 64  # objects and arrays inside each other, counted from the top of a document or record
MAX_INTEGER_DIGITS = 64  # digits of one JSON integer (Zoom's 64-bit ids have 20)
MAX_STRING_LENGTH = 1_048_576  # characters of one string, key or value
MAX_RECORD_SIZE = 8_388_608  # an estimate of one record's size in characters: its strings, 8 per other value

# ---- mapping files ---------------------------------------------------------------------------

MAX_MAPPING_FILE_BYTES = 1_048_576  # one mapping file
MAX_YAML_NODES = 50_000  # scalars, lists and mappings of one file, aliases expanded
MAX_YAML_ALIAS_NODES = 5_000  # nodes that aliases (*name) add by repeating an anchor
MAX_YAML_DEPTH = 32  # lists and mappings inside each other in one file
MAX_FIELDS = 1_000  # entries under fields: in one mapping
MAX_EXPRESSION_LENGTH = 4_096  # characters of one JMESPath expression
MAX_EXPRESSION_DEPTH = 48  # parentheses, brackets, braces, negations and chained steps inside each other

LIMIT_NAMES = {
    "MAX_NESTING_DEPTH": "nesting depth",
    "MAX_INTEGER_DIGITS": "integer digits",
    "MAX_STRING_LENGTH": "string length",
    "MAX_RECORD_SIZE": "record size",
    "MAX_MAPPING_FILE_BYTES": "mapping file size",
    "MAX_YAML_NODES": "YAML nodes",
    "MAX_YAML_ALIAS_NODES": "YAML alias expansion",
    "MAX_YAML_DEPTH": "YAML nesting depth",
    "MAX_FIELDS": "fields per mapping",
    "MAX_EXPRESSION_LENGTH": "expression length",
    "MAX_EXPRESSION_DEPTH": "expression depth",
}


def limit_text(name: str) -> str:
    """``"limit: nesting depth 64"``: how a message names the limit ``name`` (a constant of this module)."""
    value = globals()[name]
    return f"limit: {LIMIT_NAMES[name]} {value}"
