"""The ``zoomforce`` command line: one module per command group."""
