"""The app process of one browser tab: ``python -m queuectl_tui.web.app --db PATH``.

textual-serve starts this for each websocket, with its output on a pipe (the web
driver speaks over it), so this entry point does not take the CLI's "the TUI
needs a terminal" check. A tab never embeds workers (``workers=0``): closing a
tab ends its process at once, and a job it ran would be left to expire its
lease; the server's ``--workers`` pool does the work instead.
"""

from __future__ import annotations

import argparse
import os
import sys


def _end_with_the_server() -> None:
    """Linux: SIGTERM this app when the server process dies, even by SIGKILL (else it
    lingers until a write to the closed pipe fails, ~5 s)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the server died before the line above
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="queuectl-web-app")
    # Absent: $QUEUECTL_DB, where a URL with a password is passed (cli/web.py).
    parser.add_argument("--db", default=os.environ.get("QUEUECTL_DB"))
    parser.add_argument("--read-only", action="store_true")
    args = parser.parse_args(argv)
    if not args.db:
        parser.error("--db or $QUEUECTL_DB is required")
    _end_with_the_server()

    import peewee

    from queuectl_tui.errors import QueueError
    from queuectl_tui.tui import make_app

    try:
        app = make_app(args.db, workers=0, read_only=args.read_only, embed_workers=False)
    except Exception as exc:
        from queuectl_tui import store
        from queuectl_tui.display import one_line

        storage = store.current()
        if not isinstance(exc, QueueError | peewee.DatabaseError) and not (
                storage is not None and isinstance(exc, storage.errors)):
            raise

        print(f"Error: {one_line(str(exc))}", file=sys.stderr, flush=True)
        return 1
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
