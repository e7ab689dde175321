"""The privacy disclosure: built from the mapping model, rendered, and diffed."""
