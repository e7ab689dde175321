"""Zoom event notifications: the webhook app, the inbox worker, events through the mappings."""
