"""The project file, ``zoomforce.yaml``: an integrator's repository's configuration (see project_file)."""
