"""``zoomforce demo``: the whole sync on this machine against the local emulators (see demo_runner)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.messages import say, stderr_failures, stderr_progress
from engine.cli.options import sigterm_as_interrupt


@click.command("demo")
@click.option("--users", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Users of the synthetic Zoom account (each has meetings, webinars and calls).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              help="State file (default: a temporary one, so every demo starts afresh).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("zoomforce-disclosure.md"),
              show_default=True, help="Where the privacy disclosure is written.")
@click.option("--lang", "language", default="en", show_default=True, help="Language of the disclosure (en, fr).")
@click.option("--summary", "summary_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def demo_command(users: int, state_path: Path | None, output: Path, language: str, summary_format: str) -> None:
    """Run the whole sync on this machine, no account needed: local Zoom and Salesforce emulators."""
    # Deferred into the command for start-up speed: `zoomforce --help` loads none of the engine.
    from engine.cli.demo_runner import run_demo
    from engine.sync.output import summary_json, summary_text

    progress = stderr_progress()
    failures = stderr_failures(progress)
    try:
        with sigterm_as_interrupt():
            result = run_demo(users=users, state_path=state_path, output=output, language=language,
                              progress=progress, say=lambda line: say(line, event="demo"), failures=failures)
    finally:
        progress.close()
        failures.close()
    click.echo(summary_json(result.report) if summary_format == "json" else summary_text(result.report), nl=False)
    say(f"zoomforce: disclosure written to {output}", event="disclosure.written", path=str(output))
    sys.exit(1 if result.report.failed else 0)
