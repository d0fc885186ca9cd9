"""Tables and consoles for people: every command prints its tables through here.

A figure is never cut: a table that fits the width prints as a table (text columns fold, never
"…"); one that does not fit prints vertically, one ``header  value`` line per cell, so every number
stays whole on one line. The width is ``COLUMNS`` when set (a user or a test pins it), else the
terminal's; a pipe or a file has no width limit, so headers never wrap there. Imported only when
a command prints a table: ``--json`` never loads rich.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

# A pipe has no width; rich needs one, so: wider than any table crossroute prints.
PIPE_WIDTH_CHARS = 1000


def width_chars() -> int | None:
    """``COLUMNS`` when set to a number, else None on a terminal (rich asks it), else unlimited."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else PIPE_WIDTH_CHARS


def console() -> Console:
    """A console on stdout: no colouring of numbers, the width of :func:`width_chars`."""
    return Console(highlight=False, width=width_chars(), soft_wrap=False)


@dataclass
class Rows:
    """A table's content: a title, columns as (header, numeric), rows of text, section breaks
    (row indices after which a rule is drawn). Numbers are right-aligned."""

    title: str | None
    columns: Sequence[tuple[str, bool]]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    sections: list[int] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """One row; None shows as "-", anything else as its text."""
        self.rows.append(tuple("-" if cell is None else str(cell) for cell in cells))

    def extend(self, rows: Iterable[Sequence[object]]) -> Rows:
        for row in rows:
            self.add(*row)
        return self

    def section(self) -> None:
        """A rule before the next row (a total below the legs)."""
        self.sections.append(len(self.rows))

    def as_table(self) -> Table:
        table = Table(title=self.title, title_justify="left")
        for header, numeric in self.columns:
            table.add_column(header, justify="right" if numeric else "left", overflow="fold")
        for index, row in enumerate(self.rows):
            if index in self.sections:
                table.add_section()
            table.add_row(*row)
        return table

    def as_lines(self) -> list[str]:
        """The vertical layout: the title, then per row one ``header  value`` line per cell."""
        width = max((len(header) for header, _ in self.columns), default=0)
        lines = [self.title] if self.title else []
        for row in self.rows:
            lines.append("")  # a blank line between records
            lines.extend(
                f"  {header:<{width}}  {cell}"
                for (header, _numeric), cell in zip(self.columns, row)
            )
        return lines


def rows_of(table: Table) -> Rows:
    """The content of a rich ``table`` built elsewhere (plain text cells), to print with :func:`show`."""
    columns = [(str(column.header), column.justify == "right") for column in table.columns]
    cells = [[str(cell) for cell in column.cells] for column in table.columns]
    title = None if table.title is None else str(table.title)
    return Rows(title, columns).extend(zip(*cells))


def table(title: str | None, columns: Sequence[tuple[str, bool]]) -> Rows:
    """An empty table with ``columns`` as (header, numeric)."""
    return Rows(title, list(columns))


def show(out: Console, rows: Rows) -> None:
    """Print ``rows`` as a table when it fits ``out``'s width, else vertically (never cut)."""
    table = rows.as_table()
    natural = Measurement.get(out, out.options.update_width(PIPE_WIDTH_CHARS), table).maximum
    if natural <= out.width:
        out.print(table)
        return
    for line in rows.as_lines():
        out.print(line, markup=False, overflow="fold")
