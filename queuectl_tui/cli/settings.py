"""``queuectl config get|set``: settings shared by every worker on the database."""

from __future__ import annotations

import click

from queuectl_tui.cli import AppContext, pass_app
from queuectl_tui.cli.output import print_json
from queuectl_tui.config import SETTINGS, format_value, normalize_key


@click.group()
def config() -> None:
    """Read and change settings (keys work with - or _: max-retries = max_retries)."""


@config.command()
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print all settings as a JSON object.")
@pass_app
def get(app: AppContext, key: str | None, as_json: bool) -> None:
    """Print one value, or every setting as `key = value` lines."""
    values = app.queue.config()
    if key is not None:
        click.echo(format_value(getattr(values, normalize_key(key))))
    elif as_json:
        print_json(dict(values.items()))
    else:
        for name, value in values.items():
            click.echo(f"{name} = {format_value(value)}")


@config.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@pass_app
def set_(app: AppContext, key: str, value: str) -> None:
    """Change a setting; running workers pick it up within a second."""
    stored = app.queue.set_config(key, value)
    click.echo(f"{normalize_key(key)} = {format_value(stored)}")


@config.command("list")
@pass_app
def list_settings(app: AppContext) -> None:
    """Every setting with its value, default and meaning."""
    values = app.queue.config()
    for name, value in values.items():
        spec = SETTINGS[name]
        click.echo(f"{name} = {format_value(value)}  (default {format_value(spec.default)})")
        click.echo(f"    {spec.help}")
