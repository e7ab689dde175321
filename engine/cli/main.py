"""The ``zoomforce`` command line: the root group and its error handling.

Every ZoomforceError becomes one readable line on standard error and its exit code (1 for data
errors, 2 for configuration and usage errors, 3 for a run that did not start or stopped with its
state saved); no traceback reaches the user. With ``--log-format json`` that line is a JSON record
(event ``error``, with ``exit_code``), like every other line on standard error. Each command lives
in its own module of this package; they import the engine inside the command, so that
``zoomforce --help`` and each command load only what they use.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from engine import __version__, logs
from engine.cli.catalog import catalog_group
from engine.cli.dead_letters import dead_letters_group
from engine.cli.demo import demo_command
from engine.cli.disclose import disclose
from engine.cli.emulator import emulator_group
from engine.cli.init import init_command
from engine.cli.map import map_command
from engine.cli.messages import add_log_format, say
from engine.cli.serve import serve_command
from engine.cli.sync import sync_command
from engine.cli.validate import validate
from engine.errors import MappingInvalid, PreflightFailed, ProjectInvalid, ZoomforceError


class ZoomforceGroup(click.Group):
    """Turns zoomforce's typed errors into one line and an exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["zoomforce.words"] = list(args)  # what the command line said, for a usage error's format
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (MappingInvalid, ProjectInvalid) as exc:
            context = getattr(exc, "context", "")
            if context:
                say(f"zoomforce: error: {context}", level="error", event="mapping.context")
            for problem in exc.problems:
                say(str(problem), level=problem.severity, event="mapping.problem", **problem.as_json())
            ctx.exit(exc.exit_code)
        except PreflightFailed as exc:
            for line in exc.lines:
                say(f"zoomforce: error: {line}", level="error", event="preflight.missing")
            ctx.exit(exc.exit_code)
        except ZoomforceError as exc:
            say(f"zoomforce: error: {exc}", level="error", event="error", error=type(exc).__name__,
                exit_code=exc.exit_code)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            say("zoomforce: interrupted", level="warning", event="interrupted", exit_code=130)
            ctx.exit(130)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(1)
        except OSError as exc:  # the environment, not zoomforce: a full disk, an output that cannot be written
            where = exc.filename or "standard output"
            click.echo(f"zoomforce: error: {where}: {exc.strerror or exc}", err=True)
            _drop_stdout()
            ctx.exit(2)
        except click.UsageError as exc:
            if not _json_logs_asked(ctx):
                raise  # click's own usage text
            if not logs.is_json():  # the parser stopped before --log-format's callback ran
                logs.configure("json", logs.chosen_level())
            say(f"zoomforce: error: {exc.format_message()}", level="error", event="usage_error",
                command=exc.ctx.command_path if exc.ctx is not None else None, exit_code=2)
            ctx.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug: still one line, and a distinct exit code
            if os.environ.get("ZOOMFORCE_DEBUG"):
                import traceback  # deferred: only a bug with ZOOMFORCE_DEBUG set prints one

                traceback.print_exc()
            say(f"zoomforce: internal error: {type(exc).__name__}: {exc} (please report this)", level="error",
                event="internal_error", exit_code=70)
            ctx.exit(70)


def _json_logs_asked(ctx: click.Context) -> bool:
    """Whether this command line asks for JSON logs (``--log-format json`` or ``ZOOMFORCE_LOG_FORMAT``),
    read from its words: a usage error may stop the parser before the option is processed."""
    if logs.is_json():
        return True
    words: list[str] = ctx.meta.get("zoomforce.words", [])
    for position, word in enumerate(words):
        if word == "--log-format" and position + 1 < len(words):
            return words[position + 1].strip().lower() == "json"
        if word.startswith("--log-format="):
            return word.partition("=")[2].strip().lower() == "json"
    try:
        return logs.chosen_format(None) == "json"
    except ValueError:
        return False


def _drop_stdout() -> None:
    """Standard output failed: what it still buffers is dropped, so that exiting prints no second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


@click.group(cls=ZoomforceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoomforce")
def cli() -> None:
    """Declarative Zoom <-> Salesforce sync whose privacy disclosure is generated from its mappings."""


for _command in (validate, map_command, disclose, sync_command, serve_command, demo_command, emulator_group,
                 catalog_group, dead_letters_group, init_command):
    cli.add_command(_command)
add_log_format(cli)  # every command, however deep: --log-format text|json


def main() -> None:
    cli(prog_name="zoomforce")


if __name__ == "__main__":
    main()
