"""The `socmed` command: demo, run, reprocess, db upgrade, sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socmed.config import ConfigError, load_settings

app = typer.Typer(
    help="Social-media metrics into a SQL warehouse.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Warehouse schema.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The local Instagram Graph API sandbox.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(sandbox_app, name="sandbox")

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="TOML configuration file.")]


def _fail(message: str) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(2)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path("demo-data"),
) -> None:
    """Run the whole pipeline on the embedded default against the local sandbox."""
    from socmed.demo import DEMO_QUERY, run_demo

    result = run_demo(data_dir)
    lines = [
        "",
        f"socmed demo finished in {result.seconds:.1f} s"
        + (f" with a failure: {result.failed}" if result.failed else ""),
        "",
        "Rows per warehouse table:",
        *[f"  {table:<24}{rows:>8}" for table, rows in result.table_rows.items()],
        f"Quarantined rows: {result.quarantined}",
        "HTTP requests per account (API minimum): "
        + ", ".join(f"{k} {made} ({floor})" for k, (made, floor) in result.requests.items()),
        "",
        f"Config:      {result.config}",
        f"Raw zone:    {result.data_dir / 'raw'}",
        f"Parquet:     {result.data_dir / 'parquet'}",
        f"Quarantine:  {result.data_dir / 'quarantine'}",
        f"Warehouse:   {result.warehouse_url}",
        "",
        f'Try:  .venv/bin/socmed query --config {result.config} "{" ".join(DEMO_QUERY.split())}"',
        f"  or open {result.data_dir / 'warehouse.db'} in a BI tool: it may read while the pipeline writes",
    ]
    typer.echo("\n".join(lines))
    if result.failed:
        raise typer.Exit(1)


@app.command()
def run(
    config: ConfigOpt = Path("socmed.toml"),
    channel: Annotated[
        list[str] | None, typer.Option(help="Only this channel, e.g. instagram/@tangerangkota.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Backfill from this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Backfill until this date (YYYY-MM-DD).")] = None,
) -> None:
    """Ingest the configured channels from the real APIs."""
    from flows.ingest import ingest
    from socmed.config import parse_date

    try:
        load_settings(config)
        parse_date(since, "--since"), parse_date(until, "--until")
    except ConfigError as exc:
        _fail(str(exc))
    state = ingest(str(config), channel or None, since, until, return_state=True)
    if not state.is_completed():
        _fail(f"ingestion failed: {state.message}")


@app.command()
def reprocess(
    config: ConfigOpt = Path("socmed.toml"),
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    since: Annotated[str | None, typer.Option(help="Raw runs fetched on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Raw runs fetched on or before.")] = None,
) -> None:
    """Rebuild Parquet and the warehouse from the raw landing zone, without API calls."""
    from flows.reprocess import reprocess as reprocess_flow

    try:
        load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))
    state = reprocess_flow(str(config), platform, since, until, return_state=True)
    if not state.is_completed():
        _fail(f"reprocessing failed: {state.message}")
    failed = [r for r in state.result() if r.status == "failed"]
    if failed:
        _fail("; ".join(f"{r.channel} run {r.run_id}: {r.errors[0]}" for r in failed))


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One SQL statement.")], config: ConfigOpt = Path("socmed.toml")
) -> None:
    """Run one read query against the configured warehouse and print the rows."""
    from sqlalchemy import text

    from socmed.pipeline import warehouse

    try:
        url = load_settings(config).warehouse_url()
    except ConfigError as exc:
        _fail(str(exc))
    with warehouse(url).connect() as conn:
        result = conn.execute(text(sql))
        typer.echo("\t".join(result.keys()))
        for row in result:
            typer.echo("\t".join("" if v is None else str(v) for v in row))


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOpt = Path("socmed.toml"),
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply warehouse migrations."""
    from warehouse.engine import redact_url
    from warehouse.migrate import current, upgrade

    try:
        url = load_settings(config).warehouse_url()
    except ConfigError as exc:
        _fail(str(exc))
    upgrade(url, revision)
    typer.echo(f"{redact_url(url)} is at revision {current(url)}")


@db_app.command("dictionary")
def db_dictionary() -> None:
    """Print the data dictionary (markdown) generated from the warehouse models."""
    from warehouse.dictionary import render

    typer.echo(render(), nl=False)


@sandbox_app.command("serve")
def sandbox_serve(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765) -> None:
    """Serve the Instagram Graph API sandbox until interrupted."""
    from sandbox.__main__ import main

    main(["--port", str(port)])


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
