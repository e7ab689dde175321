"""``python -m engine`` runs the ``zoomforce`` command line."""

from engine.cli.main import main

main()
