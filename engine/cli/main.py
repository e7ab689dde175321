"""The ``zoomforce`` command line: the root group and its error handling.

Every ZoomforceError becomes one readable line on standard error and its exit code (1 for data
errors, 2 for configuration and usage errors); no traceback reaches the user. Each command lives
in its own module of this package; they import the engine inside the command, so that
``zoomforce --help`` and each command load only what they use.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from engine import __version__
from engine.cli.catalog import catalog_group
from engine.cli.demo import demo_command
from engine.cli.disclose import disclose
from engine.cli.emulator import emulator_group
from engine.cli.map import map_command
from engine.cli.serve import serve_command
from engine.cli.sync import sync_command
from engine.cli.validate import validate
from engine.errors import MappingInvalid, ZoomforceError


class ZoomforceGroup(click.Group):
    """Turns zoomforce's typed errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MappingInvalid as exc:
            if exc.context:
                click.echo(f"zoomforce: error: {exc.context}", err=True)
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(exc.exit_code)
        except ZoomforceError as exc:
            click.echo(f"zoomforce: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("zoomforce: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(1)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: still one line, and a distinct exit code
            if os.environ.get("ZOOMFORCE_DEBUG"):
                traceback.print_exc()
            click.echo(f"zoomforce: internal error: {type(exc).__name__}: {exc} (please report this)", err=True)
            ctx.exit(70)


@click.group(cls=ZoomforceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoomforce")
def cli() -> None:
    """Declarative Zoom <-> Salesforce sync whose privacy disclosure is generated from its mappings."""


for _command in (validate, map_command, disclose, sync_command, serve_command, demo_command, emulator_group,
                 catalog_group):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="zoomforce")


if __name__ == "__main__":
    main()
