"""The `socmed` command: demo, run, reprocess, query, report, db, sandbox."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

# The temporary Prefect server the CLI starts when no PREFECT_API_URL is set would send usage
# telemetry: off unless the user turns it on (no calls home from an office's servers, and no
# ERROR line about it on machines without internet). Set before Prefect reads its settings.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect waits 20 s for that server to answer; on a busy two-core machine its start (imports,
# its SQLite migrations) has taken longer, and the demo then failed before doing anything.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from socmed.config import ConfigError, load_settings

if TYPE_CHECKING:
    from prefect.states import State

    from socmed.summary import ChannelReport

app = typer.Typer(
    help="Social-media metrics into a SQL warehouse.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Warehouse schema.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The local sandboxes of every platform.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(sandbox_app, name="sandbox")
webhooks_app = typer.Typer(help="The Meta webhook receiver.", no_args_is_help=True)
automations_app = typer.Typer(help="Prefect limits, notifications, automations.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(automations_app, name="automations")

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
    from socmed.pipeline import warehouse
    from socmed.report import write_report

    written = write_report(warehouse(result.warehouse_url), result.data_dir / "report")
    typer.echo(f"\nReport (charts beside it): {written.html}")
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
    stream: Annotated[
        list[str] | None, typer.Option(help="Only this stream, e.g. stories (on the platforms offering it).")
    ] = None,
) -> None:
    """Ingest the configured channels from the real APIs."""
    from flows.ingest import ingest
    from socmed.config import parse_date

    try:
        load_settings(config)
        parse_date(since, "--since"), parse_date(until, "--until")
    except ConfigError as exc:
        _fail(str(exc))
    state = ingest(str(config), channel or None, since, until, stream or None, return_state=True)
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
    run = reprocess_flow(str(config), platform, since, until, return_state=True)
    state: State[list[ChannelReport]] = asyncio.run(cast(Coroutine[Any, Any, Any], run))
    if not state.is_completed():
        _fail(f"reprocessing failed: {state.message}")
    failed = [r for r in state.result() if r.status == "failed"]
    if failed:
        _fail("; ".join(f"{r.channel} run {r.run_id}: {r.errors[0]}" for r in failed))


@app.command("import")
def import_files(
    config: ConfigOpt = Path("socmed.toml"),
    channel: Annotated[list[str] | None, typer.Option(help="Only this channel (manual/@...).")] = None,
    watch: Annotated[bool, typer.Option(help="Keep polling the watch folders until interrupted.")] = False,
    interval: Annotated[float, typer.Option(min=1, max=3600, help="Seconds between polls.")] = 30.0,
) -> None:
    """Import metrics from CSV files dropped in the watch folders of manual channels."""
    import time

    from flows.imports import import_new_files

    while True:
        try:
            outcome = import_new_files(str(config), channel or None)
        except ConfigError as exc:
            _fail(str(exc))
        for key, files in outcome.found.items():
            typer.echo(f"{key}: imported {', '.join(f.name for f in files)}")
        for problem in outcome.problems:
            typer.secho(problem, fg="red", err=True)
        if not watch:
            if not outcome.found:
                typer.echo("no new files")
            if outcome.problems:
                raise typer.Exit(1)
            return
        time.sleep(interval)


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


@db_app.command("grant-readonly")
def db_grant_readonly(
    role: Annotated[str, typer.Option(help="Role to create or update, e.g. bi_reader.")],
    config: ConfigOpt = Path("socmed.toml"),
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the role's password (makes it LOGIN).")
    ] = None,
) -> None:
    """Create a read-only role for BI tools: SELECT on facts, campaigns and marts, nothing else."""
    import os

    from socmed.pipeline import warehouse
    from warehouse.roles import RoleError, grant_readonly, sqlite_read_only_hint

    try:
        url = load_settings(config).warehouse_url()
    except ConfigError as exc:
        _fail(str(exc))
    engine = warehouse(url)
    if engine.dialect.name == "sqlite":
        typer.echo(sqlite_read_only_hint(url))
        return
    password = os.environ.get(password_env) if password_env else None
    if password_env and not password:
        _fail(f"--password-env: environment variable {password_env} is not set")
    try:
        statements = grant_readonly(engine, role, password)
    except RoleError as exc:
        _fail(str(exc))
    typer.echo("\n".join(f"{s};" for s in statements))
    typer.echo(f"role {role} can read the facts, campaigns and marts, nothing else")


@app.command()
def report(
    config: ConfigOpt = Path("socmed.toml"),
    out: Annotated[Path | None, typer.Option(help="Output folder (default: <data_dir>/report).")] = None,
    days: Annotated[int, typer.Option(min=1, help="Period of the summaries, in days.")] = 30,
) -> None:
    """Write the HTML report (self-contained, offline) and its PNG charts from the marts."""
    from socmed.pipeline import warehouse
    from socmed.report import write_report

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))
    written = write_report(
        warehouse(settings.warehouse_url()), out or settings.pipeline.data_dir / "report", days
    )
    typer.echo("\n".join(f"Chart:   {p}" for p in written.charts.values()))
    typer.echo(f"Report:  {written.html}")


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="First port on 127.0.0.1, one per platform; 0: any.")] = 8765,
    platform: Annotated[list[str] | None, typer.Option(help="Serve only these (repeatable).")] = None,
) -> None:
    """Serve every platform's sandbox on loopback until interrupted; print a config for them."""
    import datetime as dt
    import signal
    import threading

    from sandbox import hub

    known = [item.platform for item in hub.SANDBOXES]
    unknown = sorted(set(platform or ()) - set(known))
    if unknown:
        _fail(f"--platform: no sandbox for {', '.join(unknown)} (known: {', '.join(known)})")
    today = dt.datetime.now(dt.UTC).date()
    with hub.serving(today, port, platform or None) as fakes:
        for name, url in hub.base_urls(fakes).items():
            typer.echo(f"{name:<10} {url}")
        served = hub.demo_channels(fakes)
        typer.echo(f"\n# socmed.toml for these sandboxes (data as of {today}):{served.toml}")
        typer.echo("# and their (sandbox, not secret) credentials:")
        typer.echo("\n".join(f"export {key}={value}" for key, value in served.env.items()))
        typer.echo("\nCtrl-C (or SIGTERM) to stop.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    typer.echo("stopped")


@webhooks_app.command("serve")
def webhooks_serve(
    config: ConfigOpt = Path("socmed.toml"),
    host: Annotated[str | None, typer.Option(help="Interface (default [webhooks] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default [webhooks] port).")] = None,
) -> None:
    """Serve the Meta webhook receiver: verified callbacks become Prefect events."""
    from socmed.webhooks import load_secrets, serve

    try:
        settings = load_settings(config)
        load_secrets(settings)
    except ConfigError as exc:
        _fail(str(exc))
    serve(settings, host, port)


@automations_app.command("apply")
def automations_apply(config: ConfigOpt = Path("socmed.toml")) -> None:
    """Create or update the concurrency limits, the notification block and the automations."""
    from socmed.automations import apply

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))
    typer.echo("\n".join(apply(settings)))


@app.command()
def status(
    config: ConfigOpt = Path("socmed.toml"),
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    check_tokens: Annotated[bool, typer.Option(help="Check the tokens with the platforms first.")] = False,
) -> None:
    """Per channel: last success, freshness, rows, token expiry, requests, coverage, open failures."""
    import datetime as dt

    from socmed.pipeline import warehouse
    from socmed.status import as_json as to_json
    from socmed.status import channel_status, render

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))
    if check_tokens:
        from flows.housekeeping import token_health_check

        token_health_check(str(config))
    engine, now = warehouse(settings.warehouse_url()), dt.datetime.now(dt.UTC)
    statuses = [channel_status(settings, engine, c, now) for c in settings.channels if c.enabled]
    typer.echo(to_json(statuses) if as_json else render(statuses))


@app.command()
def housekeeping(
    config: ConfigOpt = Path("socmed.toml"),
    dry_run: Annotated[bool, typer.Option(help="Only count what would be deleted.")] = False,
) -> None:
    """Prune old socmed flow runs and logs, and old raw runs if a raw retention is set."""
    from flows.housekeeping import housekeeping as housekeeping_flow

    try:
        load_settings(config)
    except ConfigError as exc:
        _fail(str(exc))
    done = housekeeping_flow(str(config), dry_run)
    typer.echo(", ".join(f"{k} {v}" for k, v in done.items()))


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
