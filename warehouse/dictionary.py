"""The data dictionary, generated from the models' table and column comments."""

from __future__ import annotations

from sqlalchemy import MetaData, Table

from warehouse.models import Base

HEADER = """# Data dictionary

Generated from `warehouse/models.py` by `socmed db dictionary`; do not edit by hand (a test
checks that this file matches the models). On PostgreSQL the same text is attached to every
table and column as `COMMENT ON`, so BI tools show it. Timestamps are UTC; `snapshot_date` is
the channel's local date; metric counters are lifetime totals as observed on that date, and
NULL means the platform does not report the metric (never 0).
"""


def _type(column: object) -> str:
    kind = getattr(column, "type", None)
    impl = getattr(kind, "impl", None)
    name = type(impl if impl is not None else kind).__name__
    return {
        "DateTime": "timestamp (UTC)",
        "BigInteger": "bigint",
        "Integer": "integer",
        "String": "text",
        "Text": "text",
        "Date": "date",
    }.get(name, name.lower())


def _table(table: Table) -> list[str]:
    keys = ", ".join(c.name for c in table.primary_key.columns)
    lines = [
        f"## `{table.name}`",
        "",
        table.comment or "",
        "",
        f"Grain (primary key): {keys}",
        "",
        "| column | type | null | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for column in table.columns:
        comment = (column.comment or "").replace("|", "\\|").replace("\n", " ")
        null = "yes" if column.nullable else "no"
        lines.append(f"| `{column.name}` | {_type(column)} | {null} | {comment} |")
    return [*lines, ""]


def render(metadata: MetaData = Base.metadata) -> str:
    """The whole dictionary as markdown, tables in the order of the models."""
    lines = [HEADER]
    for table in metadata.sorted_tables:
        lines += _table(table)
    return "\n".join(lines).rstrip() + "\n"
