"""Alembic migrations of the supply chain's operational database, configured in code
by the kernel (``shared_kernel.infrastructure.persistence.migrations``: there is no
``alembic.ini``). The integration tests check the schema at head against
``orm.metadata``.
"""

from __future__ import annotations

from pathlib import Path

from shared_kernel.infrastructure.persistence.migrations import Migrations

__all__ = ["MIGRATIONS", "downgrade_database", "revisions", "upgrade_database"]

MIGRATIONS = Migrations(Path(__file__).parent)

upgrade_database = MIGRATIONS.upgrade
downgrade_database = MIGRATIONS.downgrade
revisions = MIGRATIONS.revisions
