"""The privacy disclosure: the document-level facts, one model built from the mappings and the facts,
its formats (Markdown, HTML, JSON, Fides, a Salesforce permission set), and the diff between two folders."""
