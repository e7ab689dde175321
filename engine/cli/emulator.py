"""``zoomforce emulator zoom|salesforce``: the local emulators, each imported only when it is run."""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A group whose commands are imported when one is used, so that `zoomforce validate` starts fast."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, name = self.lazy[cmd_name]
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group("emulator", cls=LazyGroup, lazy={
    "zoom": ("engine.cli.emulator_zoom", "zoom_command"),
    "salesforce": ("engine.cli.emulator_salesforce", "salesforce_command"),
})
def emulator_group() -> None:
    """Local emulators of the Zoom and Salesforce APIs on 127.0.0.1 (for tests and the demo)."""
