"""The Zoom side: the REST client, the reader that walks what a mapping declares, the source schemas."""
