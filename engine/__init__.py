"""zoomforce: a declarative Zoom <-> Salesforce mapping engine.

YAML mapping files declare every field that flows; one generic engine runs them, and the privacy
disclosure is rendered from the same files. The flow is load -> validate -> compile -> run ->
write, and ``disclose`` renders from the same validated model. One subpackage per concern:

    engine.language     the mapping language: YAML with positions, the model, JMESPath expressions,
                        the transform registry, coercion, the compiled plan; nothing of Zoom,
                        Salesforce, sync or the CLI
    engine.validate     load and validate a mapping set: JSON Schema, then meaning against
                        engine.zoom.schemas, engine.salesforce.catalog and the Fides taxonomy
    engine.zoom         the Zoom REST client, the reader that follows a mapping's source, the schemas
    engine.salesforce   authentication, the writer (Collections, Bulk API 2.0, records found by match),
                        the target catalog, Salesforce DX source of what an org lacks
    engine.project      the project file (zoomforce.yaml) of an integrator's repository, and what
                        `zoomforce init` writes
    engine.sync         the sync runner, its write pipeline, the reverse flow, output, the state
    engine.serve        Zoom event notifications: the webhook app, the inbox worker, the processor
    engine.disclosure   the privacy disclosure: the document-level facts, one model built from the
                        mappings and facts, rendered (Markdown, HTML, JSON, Fides, a Salesforce
                        permission set) and diffed
    engine.cli          the ``zoomforce`` command line, one module per command group (click lives here only)
    engine.emulators    local Zoom and Salesforce API emulators, importing nothing of the product
                        but the leaves below and the shipped schemas (engine.zoom.schemas)

and the leaves every layer may use: ``engine.errors`` (the one exception hierarchy),
``engine.secrets`` (every redaction rule), ``engine.resources`` (where the shipped schemas and
mappings are), ``engine.serving`` (the uvicorn runner), ``engine.suggest`` ("did you mean") and
``engine.describe`` (a value's JSON type, a short quote of it). docs/design.md explains the layering.
"""

__version__ = "0.1.0"
