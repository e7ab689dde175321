"""The local Zoom API emulator."""
