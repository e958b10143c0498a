"""The data dictionary, generated from the models' comments and the marts' column documentation."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, Table

from warehouse.mart_columns import VIEW_DOCS, ViewDoc
from warehouse.models import CHECKED_REFERENCES, Base

HEADER = """# Data dictionary

Generated from `warehouse/models.py` and `warehouse/mart_columns.py` by `socmed db dictionary`;
do not edit by hand (a test checks that this file matches the code). On PostgreSQL the same
text is attached to every table, view and column as `COMMENT ON`, so BI tools show it.
Timestamps are UTC; `snapshot_date` and `day` are the channel's local date. NULL means the
platform does not report the metric (never 0). How the marts derive daily deltas from the
lifetime counters, and why they are views, is in [marts.md](marts.md).

Measures: **key** identifies the row; **lifetime** is a counter since publication, as observed;
**daily** is a change or a count during one day; **level** is a value as observed that day;
**ratio** is a fraction (0.05 = 5 %); **flag** qualifies the row; **attribute** describes it.
"""

METRICS = {"views": "views", "reach": "accounts", "likes": "likes", "comments": "comments"}
METRICS |= {"shares": "shares", "saves": "saves"}
LEVELS = {"followers": "followers", "following": "accounts", "posts_count": "items"}
TYPES = {
    "DateTime": "timestamp (UTC)",
    "BigInteger": "bigint",
    "Integer": "integer",
    "String": "text",
    "Text": "text",
    "Date": "date",
}


def _type(column: Column[object]) -> str:
    """The dictionary's name of a column type."""
    kind = column.type
    impl = getattr(kind, "impl", None)
    name = type(impl if impl is not None else kind).__name__
    return TYPES.get(name, name.lower())


def unit_and_measure(table: str, column: Column[object]) -> tuple[str, str]:
    """Unit and measure of a table column, from its table, name and type."""
    name = column.name
    if table == "content_metrics_daily" and name in METRICS:
        return METRICS[name], "lifetime"
    if table == "channel_metrics_daily" and name in LEVELS:
        return LEVELS[name], "level"
    if table == "channel_metrics_daily" and name in METRICS:
        return METRICS[name], "daily"
    if name.startswith("rows_"):
        return "rows", "attribute"
    kind = _type(column)
    unit = {"timestamp (UTC)": "UTC time", "date": "date (channel-local)"}.get(kind, "-")
    if name == "utc_offset_seconds":
        unit = "seconds"
    return unit, "key" if column.primary_key else "attribute"


def _cell(text: str | None) -> str:
    """Markdown-table-safe text."""
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> list[str]:
    """The section of one table."""
    keys = ", ".join(c.name for c in table.primary_key.columns)
    lines = [
        f"## `{table.name}` (table)",
        "",
        table.comment or "",
        "",
        f"Grain (primary key): {keys}",
        "",
        *_references(table),
        "| column | type | unit | measure | null | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for column in table.columns:
        unit, measure = unit_and_measure(table.name, column)
        null = "yes" if column.nullable else "no"
        lines.append(
            f"| `{column.name}` | {_type(column)} | {unit} | {measure} | {null} | {_cell(column.comment)} |"
        )
    return [*lines, ""]


def _references(table: Table) -> list[str]:
    """The table's references to other tables, foreign keys and those every load checks instead."""
    found = [
        (tuple(e.parent.name for e in fk.elements), fk.referred_table.name, "foreign key")
        for fk in sorted(table.foreign_key_constraints, key=lambda fk: fk.referred_table.name)
    ]
    if table.name in CHECKED_REFERENCES:
        referred, columns = CHECKED_REFERENCES[table.name]
        found.append((columns, referred, "checked by every load, no foreign key"))
    if not found:
        return []
    return [
        "References: "
        + "; ".join(f"({', '.join(columns)}) → `{referred}` ({how})" for columns, referred, how in found),
        "",
    ]


def _view(doc: ViewDoc) -> list[str]:
    """The section of one view."""
    lines = [
        f"## `{doc.name}` (view)",
        "",
        doc.comment,
        "",
        f"Grain: {doc.grain}",
        "",
        "| column | type | unit | measure | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in doc.columns:
        lines.append(f"| `{c.name}` | {c.type} | {c.unit} | {c.measure} | {_cell(c.comment)} |")
    return [*lines, ""]


def _index(metadata: MetaData) -> list[str]:
    """One line per table and view: name, kind and grain."""
    lines = ["| name | kind | grain |", "| --- | --- | --- |"]
    for table in metadata.tables.values():
        keys = " + ".join(c.name for c in table.primary_key.columns)
        lines.append(f"| [`{table.name}`](#{table.name}-table) | table | {keys} |")
    for doc in VIEW_DOCS.values():
        lines.append(f"| [`{doc.name}`](#{doc.name}-view) | view | {doc.grain} |")
    return [*lines, ""]


def render(metadata: MetaData = Base.metadata) -> str:
    """The whole dictionary as markdown: an index, the tables, then the views."""
    lines = [HEADER, *_index(metadata)]
    for table in metadata.tables.values():
        lines += _table(table)
    for doc in VIEW_DOCS.values():
        lines += _view(doc)
    return "\n".join(lines).rstrip() + "\n"
