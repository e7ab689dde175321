"""The sync: the runner that reads Zoom and writes Salesforce, the reverse flow, output, and the state."""
