"""The supply chain's operational database: tables, ORM mapping, repositories, unit of
work, SQL readers, idempotency keys and Alembic migrations."""
