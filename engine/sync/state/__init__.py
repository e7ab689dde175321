"""The sync's state store."""
