"""Throwaway databases on the test PostgreSQL server (``SOCMED_TEST_PG_URL``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

PG_ADMIN_URL = os.environ.get("SOCMED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def dsn(database: str, driver: str = "") -> str:
    """The URL of a database on the test server, ``postgresql+<driver>://`` when a driver is named."""
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{database}"
    return url.replace("postgresql://", f"postgresql+{driver}://", 1) if driver else url


def create() -> str:
    """A fresh, empty database; its name. Fails the test loudly if PostgreSQL is down."""
    name = f"socmed_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable (start it; see .ci/run): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop(name: str) -> None:
    """Drop a database made by ``create``, whoever is still connected."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database() -> Iterator[str]:
    """A fresh database for the duration of the block; its name."""
    name = create()
    try:
        yield name
    finally:
        drop(name)
