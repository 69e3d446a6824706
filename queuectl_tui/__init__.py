"""queuectl: a background job queue for the terminal.

The package splits into the domain (store, queue, config, worker, supervisor),
which never imports a UI library, and two faces over it: ``cli`` (Click) and
``tui`` (Textual).
"""

__version__ = "0.1.0"
