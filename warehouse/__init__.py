"""The warehouse: SQLAlchemy models, Alembic migrations, engines and idempotent batch loads."""

import socmed  # noqa: F401  first: it tunes the memory allocators before Polars loads
