"""Fill in the line numbers of the code references in DECISIONS.md.

DECISIONS.md names code by symbol, and this tool writes the line numbers after
each reference, so moving code means re-running the tool, never renumbering by
hand, and a renamed or removed symbol fails loudly::

    python scripts/decisions.py           # rewrite DECISIONS.md in place
    python scripts/decisions.py --check   # exit 1 if a number is stale or a symbol is gone

A reference is a code span followed by the numbers the tool manages:

    `queuectl_tui/store.py::CLAIM_SQL` (lines 223-230)
    `queuectl_tui/queue.py::JobQueue.finish::CLAIM_SQL` (lines 195-196)

- ``PATH::SYMBOL``: a module-level function, class or constant, or a dotted
  path into one (``JobQueue.retry_dead``); the numbers are its whole span.
- ``PATH::SYMBOL::TEXT``: the first line inside SYMBOL that contains TEXT,
  widened to the simple statement around it (so a call split over three lines
  is shown as those three lines); ambiguous TEXT picks the first match, so
  choose text that is unique in the symbol.

PATH is relative to the repository root. The numbers are found with ``ast``:
no import of the code, so the tool runs in any checkout.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REFERENCE = re.compile(
    r"`(?P<path>[\w./-]+\.py)::(?P<symbol>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
    r"(?:::(?P<text>[^`]+))?`"
    r"(?P<lines> \(lines? \d+(?:-\d+)?\))?"
)


class UnknownReference(Exception):
    """A reference that names no code: the caller reports it with its place."""


@dataclass(frozen=True)
class Span:
    first: int
    last: int

    def render(self) -> str:
        if self.first == self.last:
            return f" (line {self.first})"
        return f" (lines {self.first}-{self.last})"


def _named(body: list[ast.stmt], name: str) -> ast.AST | None:
    """The definition of ``name`` among ``body``'s statements (the last one wins,
    as at run time)."""
    found = None
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                found = node
        elif isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = node
        elif (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
              and node.target.id == name):
            found = node
    return found


def _simple_statement_around(node: ast.AST, line: int) -> Span:
    """The innermost non-compound statement of ``node`` that covers ``line``;
    just the line if none does (e.g. the header of an ``if``)."""
    best = Span(line, line)
    width = None
    for child in ast.walk(node):
        if not isinstance(child, ast.stmt) or hasattr(child, "body"):
            continue
        if child.lineno <= line <= child.end_lineno:
            span = child.end_lineno - child.lineno
            if width is None or span < width:
                best, width = Span(child.lineno, child.end_lineno), span
    return best


def locate(root: Path, path: str, symbol: str, text: str | None,
           _cache: dict[Path, tuple[ast.Module, list[str]]] | None = None) -> Span:
    """Where ``symbol`` (and ``text`` inside it) is in ``root / path``."""
    file = root / path
    if _cache is not None and file in _cache:
        tree, lines = _cache[file]
    else:
        if not file.is_file():
            raise UnknownReference(f"{path}: no such file")
        source = file.read_text(encoding="utf-8")
        tree, lines = ast.parse(source, filename=str(file)), source.splitlines()
        if _cache is not None:
            _cache[file] = (tree, lines)
    node: ast.AST = tree
    for part in symbol.split("."):
        found = _named(getattr(node, "body", []), part)
        if found is None:
            raise UnknownReference(f"{path}::{symbol}: no {part!r} there")
        node = found
    if text is None:
        return Span(node.lineno, node.end_lineno)
    for number in range(node.lineno, node.end_lineno + 1):
        if text in lines[number - 1]:
            return _simple_statement_around(node, number)
    raise UnknownReference(f"{path}::{symbol}::{text}: the text is not in {symbol}")


def refresh(text: str, root: Path) -> tuple[str, list[str], int]:
    """The text with every reference's numbers recomputed, the problems found
    (stale numbers are not problems here: the caller compares texts), and how
    many references there are."""
    problems: list[str] = []
    cache: dict[Path, tuple[ast.Module, list[str]]] = {}
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        line = text.count("\n", 0, match.start()) + 1
        try:
            span = locate(root, match["path"], match["symbol"], match["text"], cache)
        except (UnknownReference, SyntaxError) as exc:
            problems.append(f"DECISIONS.md:{line}: {exc}")
            return match.group(0)
        head = match.group(0)[: len(match.group(0)) - len(match["lines"] or "")]
        return head + span.render()

    return REFERENCE.sub(replace, text), problems, count


def stale(old: str, new: str) -> list[str]:
    """The lines whose references changed: what --check reports."""
    return [
        f"DECISIONS.md:{n}: {a.strip()!r}\n    should read {b.strip()!r}"
        for n, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=True), 1)
        if a != b
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if any number is stale or any "
                             "symbol is missing")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the repository (default: this script's)")
    parser.add_argument("--file", type=Path, default=None,
                        help="the document (default: ROOT/DECISIONS.md)")
    args = parser.parse_args(argv)
    document = args.file or args.root / "DECISIONS.md"
    old = document.read_text(encoding="utf-8")
    new, problems, count = refresh(old, args.root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check:
        changes = stale(old, new)
        for change in changes:
            print(f"{change}  (stale: run python scripts/decisions.py)", file=sys.stderr)
        if not problems and not changes:
            print(f"{count} references up to date")
        return 1 if problems or changes else 0
    if new != old:
        document.write_text(new, encoding="utf-8")
    print(f"{count} references, {len(stale(old, new))} lines updated"
          + (f", {len(problems)} problems" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
