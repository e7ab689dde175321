"""zoomforce: a declarative Zoom <-> Salesforce mapping engine.

The package reads as its pipeline: ``loader`` (YAML with positions) -> ``validate`` (JSON Schema,
then meaning) -> ``plan`` (compile once) -> ``runtime`` (map records) -> writers. ``disclose``
renders from the same loaded model. The CLI lives in ``engine.cli.main`` and is the only module that
imports click.
"""

__version__ = "0.1.0"
