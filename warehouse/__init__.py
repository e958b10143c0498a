"""The warehouse: SQLAlchemy models, Alembic migrations, engines and idempotent batch loads."""
