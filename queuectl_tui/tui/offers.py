"""Which actions the app offers: none that change the queue when it is read-only
(`queuectl web --read-only`, `queuectl tui --read-only`: a wall display), and
none that embed workers when it may not embed them (a browser tab: the web
server's own pool does the work, and a closed tab would strand a running job).

Each node that owns such a binding asks ``offered`` from its ``check_action``:
an action that is not offered is neither shown in the footer nor run by its
key. The domain refuses the changes as well (``JobQueue(read_only=True)``).
"""

from __future__ import annotations

from textual.dom import DOMNode

# Actions (by their Textual action name) that change jobs or settings.
CHANGES = frozenset({"new_job", "retry", "retry_all", "delete", "cancel_job", "edit_setting",
                     "submit"})
# Actions that start, stop or scale embedded workers.
EMBEDDING = frozenset({"scale", "toggle"})


def offered(node: DOMNode, action: str) -> bool:
    app = node.app
    if getattr(app, "read_only", False) and action in CHANGES | EMBEDDING:
        return False
    return not (action in EMBEDDING and not getattr(app, "can_embed", True))
