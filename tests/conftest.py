"""Shared fixtures: throwaway warehouses on the embedded default and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg

# Fixtures that create PostgreSQL databases: a test using one (directly or through another
# fixture) is marked ``postgres``, so ``-m "not postgres"`` runs what needs no server.
POSTGRES_FIXTURES = frozenset({"pg_url", "prefect_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need PostgreSQL; slow tests first, otherwise in file order (under
    xdist the long ones start early, not last)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("warehouse_url") == "postgres"
        if on_postgres or POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database as a SQLAlchemy URL."""
    with pg.database() as name:
        yield pg.dsn(name, "psycopg")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server for every test that runs flows (one per xdist worker).

    Like ``prefect_test_harness``, but its database is a throwaway PostgreSQL one: on SQLite the
    server answers concurrent writes (a task's concurrency-slot call racing the task-run
    recorder) with 503, and each costs the client a 2 s back-off. Nor is it registered as the
    process's default ephemeral server, which the benchmark's own ``SubprocessASGIServer()``
    would otherwise pick up, and stop.
    """
    from prefect.context import _temporary_global_settings_context, get_settings_context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings

    from tests.prefect_stack import free_port

    with pg.database() as name:
        with temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: pg.dsn(name, "asyncpg")}):
            server = SubprocessASGIServer(port=free_port())
            server.start(timeout=120)
        try:
            with (
                temporary_settings({PREFECT_API_URL: server.api_url}),
                _temporary_global_settings_context(get_settings_context()),
            ):
                yield
                APILogWorker.drain_all()  # what is still queued reaches the server before it stops
                EventsWorker.drain_all()
        finally:
            server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh embedded warehouse file."""
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on the embedded default and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))
