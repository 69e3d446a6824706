"""The headless face: Click commands that parse, call the domain, and print.

Errors of every kind end here as one line on stderr: exit status 1 when an
operation was refused, 2 for bad usage, never a traceback (set
``QUEUECTL_DEBUG=1`` to see one). Textual is never imported on this path.
"""

from __future__ import annotations

import importlib
import os
import sys

import click
import peewee

from queuectl_tui import __version__
from queuectl_tui.errors import QueueError


class AppContext:
    """Shared by all commands through ``ctx.obj``: opens the store on first use."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self._queue = None

    @property
    def queue(self):
        if self._queue is None:
            from queuectl_tui.queue import JobQueue

            self._queue = JobQueue.open(self.db_path)
            self._queue.recover_expired_if_writable()
        return self._queue

    def use_database(self, db_path: str) -> None:
        """Point at another database (a ``--db`` after the command name). Only before
        the store is opened: a command body must never see two databases."""
        if self._queue is not None:
            raise RuntimeError("the database is already open")
        self.db_path = db_path


pass_app = click.make_pass_decorator(AppContext)

DB_TYPE = click.Path(dir_okay=False)
DB_METAVAR = "FILE|URL"
ALLOW_SHARED_HELP = ("Use a database that other users can write (their file, or a folder open to"
                     " them and not sticky; /tmp is fine): they can then run commands as you.")


def _db_after(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``queuectl list --db X``: retarget the AppContext the group made from the
    ``--db`` before the command (or QUEUECTL_DB, or the default) before the body runs."""
    if value is None:
        return
    app = ctx.find_object(AppContext)  # made by the group callback, which ran first
    if app is None:  # the command invoked on its own (no group above it)
        ctx.obj = AppContext(value)
    else:
        app.use_database(value)


def _allow_shared_after(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:  # as the group's flag does: for this process's store and its workers
        os.environ["QUEUECTL_ALLOW_SHARED"] = "1"


def _after_options() -> list[click.Option]:
    """The group's database options, as every subcommand also accepts them. No
    ``envvar`` here: QUEUECTL_DB must not override a ``--db`` given before."""
    return [
        click.Option(["--db"], type=DB_TYPE, metavar=DB_METAVAR, expose_value=False,
                     callback=_db_after,
                     help="The database, as in `queuectl --db`; this one wins over a --db"
                          " before the command and over QUEUECTL_DB."),
        click.Option(["--allow-shared"], is_flag=True, expose_value=False,
                     callback=_allow_shared_after,
                     help="As in `queuectl --allow-shared` (see queuectl --help)."),
    ]


def accept_db_options(ctx: click.Context, command: click.Command) -> click.Command:
    """Give ``command`` and, for a group, every command below it the ``--db`` and
    ``--allow-shared`` options, once: users type ``queuectl list --db x.db`` as often
    as ``queuectl --db x.db list``. Done here, where commands are looked up, so a new
    command gets them without a line of its own. An option the command already
    defines is left alone (``bench --db`` names a server to measure on)."""
    if not getattr(command, "_queuectl_db_options", False):
        taken = {opt for param in command.params for opt in param.opts}
        command.params.extend(o for o in _after_options() if not taken & set(o.opts))
        command._queuectl_db_options = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                accept_db_options(ctx, sub)
    return command


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that command runs (Click's documented
    lazy-loading pattern), so `queuectl status` does not pay for `enqueue`'s imports.
    Every command it hands out also takes ``--db`` after its name (``accept_db_options``)."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[name].split(":")
            module = importlib.import_module(module_name)
            return accept_db_options(ctx, getattr(module, attribute))
        command = super().get_command(ctx, name)
        return None if command is None else accept_db_options(ctx, command)


COMMANDS = {
    "enqueue": "queuectl_tui.cli.jobs:enqueue",
    "list": "queuectl_tui.cli.jobs:list_jobs",
    "show": "queuectl_tui.cli.jobs:show",
    "cancel": "queuectl_tui.cli.jobs:cancel",
    "purge": "queuectl_tui.cli.jobs:purge",
    "status": "queuectl_tui.cli.status:status",
    "worker": "queuectl_tui.cli.workers:worker",
    "dlq": "queuectl_tui.cli.dlq:dlq",
    "config": "queuectl_tui.cli.settings:config",
    "tui": "queuectl_tui.cli.tui:tui",
    "demo": "queuectl_tui.cli.tui:demo",
    "bench": "queuectl_tui.cli.bench:bench",
    "web": "queuectl_tui.cli.web:web",
    "metrics": "queuectl_tui.cli.metrics:metrics",
    "export": "queuectl_tui.cli.transfer:export_jobs",
    "import": "queuectl_tui.cli.transfer:import_jobs",
    "schedule": "queuectl_tui.cli.schedules:schedule",
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db",
    type=DB_TYPE,
    envvar="QUEUECTL_DB",
    show_envvar=True,
    metavar=DB_METAVAR,
    help="Database: a SQLite file (default: in your user data directory) or a"
    " postgresql://user[:password]@host[:port]/dbname URL. Also accepted after the"
    " command (queuectl list --db FILE); given in both places, the one after wins.",
)
@click.option(
    "--allow-shared",
    is_flag=True,
    envvar="QUEUECTL_ALLOW_SHARED",
    show_envvar=True,
    help=ALLOW_SHARED_HELP + " Also accepted after the command.",
)
@click.version_option(__version__, "--version", "-V", prog_name="queuectl")
@click.pass_context
def cli(ctx: click.Context, db: str | None, allow_shared: bool) -> None:
    """queuectl: a background job queue for the terminal.

    Enqueue shell commands, run them in worker processes, retry failures with
    exponential backoff and keep the ones that keep failing in a dead letter
    queue (DLQ). All state lives in one SQLite file, or in a PostgreSQL database
    that workers on many machines share.
    """
    if db is None:
        from queuectl_tui.store import default_path

        db = default_path()
    if allow_shared:  # for this process's store, and the workers it starts
        os.environ["QUEUECTL_ALLOW_SHARED"] = "1"
    ctx.obj = AppContext(db)
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            click.echo(ctx.get_help())  # a script or a pipe: no screen to draw on
            return
        from queuectl_tui.cli.tui import tui

        ctx.invoke(tui)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and turn every error into one line."""
    debug = bool(os.environ.get("QUEUECTL_DEBUG"))
    try:
        code = cli.main(args=argv, prog_name="queuectl", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(f"{exc.format_message()}{hint}", exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except QueueError as exc:
        _fail(str(exc), 1)
    except (click.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:
        # `queuectl list | head`: the reader left; that is not our error.
        sys.stderr.close()
        sys.exit(0)
    except Exception as exc:
        storage = _storage()
        if storage is not None and isinstance(exc, storage.errors):
            storage.after_error(exc)  # a full disk: so that freeing space is enough
            _fail(storage.describe_error(exc), 1)
        if isinstance(exc, peewee.DatabaseError):
            _fail(f"database error: {exc}", 1)
        if debug:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (QUEUECTL_DEBUG=1 shows details)", 1)
    sys.exit(code if isinstance(code, int) else 0)


def _storage():
    """The database this process opened last (the store module is loaded by then,
    if any database was opened at all)."""
    store = sys.modules.get("queuectl_tui.store")
    return store.current() if store is not None else None


def _fail(message: str, code: int) -> None:
    flat = " ".join(str(message).split())
    click.echo(f"Error: {flat}", err=True)
    sys.exit(code)
