"""``python -m engine`` runs the ``zoomforce`` command line."""

from engine.cli import main

main()
