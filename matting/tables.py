"""Markdown tables: what the evaluation, the notebooks and every benchmark print."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A Markdown table of ``header`` and ``rows``; cells are written with ``str``, so format
    numbers before (``f"{x:.4f}"``). A row of another length than the header is a ``ValueError``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells under a header of {len(header)}: {row}")
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)
