"""Which machine this is: one answer for the whole package.

Worker ids, the registry's host column, ``worker stop --host``, the doorbell
(which reaches only this machine's workers) and the recovery's "is the lost
run's process here?" all ask this. ``QUEUECTL_HOSTNAME`` overrides it, so tests
can run two "hosts" on one machine.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("QUEUECTL_HOSTNAME") or socket.gethostname()
