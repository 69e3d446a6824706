"""The app process of one browser tab: ``python -m queuectl_tui.web.app --db PATH``.

textual-serve starts this for each websocket, with its output on a pipe (the web
driver speaks over it), so this entry point does not take the CLI's "the TUI
needs a terminal" check. A tab never embeds workers (``workers=0``): closing a
tab ends its process at once, and a job it ran would be left to expire its
lease; the server's ``--workers`` pool does the work instead.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="queuectl-web-app")
    parser.add_argument("--db", required=True)
    parser.add_argument("--read-only", action="store_true")
    args = parser.parse_args(argv)

    import peewee

    from queuectl_tui.errors import QueueError
    from queuectl_tui.tui import make_app

    try:
        app = make_app(args.db, workers=0)
    except (QueueError, peewee.DatabaseError, sqlite3.Error) as exc:
        from queuectl_tui.display import one_line

        print(f"Error: {one_line(str(exc))}", file=sys.stderr, flush=True)
        return 1
    if args.read_only:
        app.queue.read_only = True
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
