"""DECISIONS.md points at exact lines: check that the named code is still there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `store.py:248` `RECOVER_SQL`  or  `queue.py:207` (`JobQueue.recover_expired`)
REFERENCE = re.compile(r"`(?:queuectl_tui/)?([\w/]+\.py):(\d+)(-\d+)?`\s+\(?`([\w.]+)`")
# A range names the function or constant it sits in: look this far above it.
ENCLOSING = 12


def test_line_references_in_decisions_point_at_the_named_code():
    text = (ROOT / "DECISIONS.md").read_text()
    references = REFERENCE.findall(text)
    assert len(references) >= 20  # every reference names what it points at
    for path, line, span, name in references:
        lines = (ROOT / "queuectl_tui" / path).read_text().splitlines()
        start = int(line) - 1
        end = int(span[1:]) if span else start + 1
        first = start - ENCLOSING if span else start
        target = "\n".join(lines[max(first, 0) : end])
        assert name.split(".")[-1] in target, f"{path}:{line}{span} should show {name}"
