"""Validation of a mapping set: the JSON Schema pass, then meaning (Zoom, Salesforce, taxonomy, labels)."""
