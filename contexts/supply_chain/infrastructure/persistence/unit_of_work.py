"""The supply chain's unit of work: its six repositories over one SQLAlchemy session."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contexts.supply_chain.infrastructure.persistence.orm import outbox, start_mappers
from contexts.supply_chain.infrastructure.persistence.repositories import (
    SqlAlchemyInventoryRepository,
    SqlAlchemyPurchaseOrderRepository,
    SqlAlchemyShipmentRepository,
    SqlAlchemySkuRepository,
    SqlAlchemySupplierRepository,
    SqlAlchemyWarehouseRepository,
)
from shared_kernel.infrastructure.persistence.outbox import OutboxWriter
from shared_kernel.infrastructure.persistence.unit_of_work import (
    AfterCommit,
    BeforeCommit,
    SqlAlchemyUnitOfWork,
)


class SqlAlchemySupplyChainUnitOfWork(SqlAlchemyUnitOfWork):
    """Implements ``SupplyChainUnitOfWork``; events go to the context's ``outbox`` table
    on ``supply_chain.<aggregate>.v<major>`` topics."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        outbox_writer: OutboxWriter | None = None,
        after_commit: Sequence[AfterCommit] = (),
        before_commit: Sequence[BeforeCommit] = (),
    ) -> None:
        start_mappers()
        super().__init__(
            session_factory,
            outbox_writer or OutboxWriter(outbox),
            after_commit=after_commit,
            before_commit=before_commit,
        )

    def _open_repositories(self, session: AsyncSession) -> None:
        self._warehouses = SqlAlchemyWarehouseRepository(session, self.track)
        self._skus = SqlAlchemySkuRepository(session, self.track)
        self._suppliers = SqlAlchemySupplierRepository(session, self.track)
        self._inventory = SqlAlchemyInventoryRepository(session, self.track)
        self._purchase_orders = SqlAlchemyPurchaseOrderRepository(session, self.track)
        self._shipments = SqlAlchemyShipmentRepository(session, self.track)

    @property
    def warehouses(self) -> SqlAlchemyWarehouseRepository:
        return self._warehouses

    @property
    def skus(self) -> SqlAlchemySkuRepository:
        return self._skus

    @property
    def suppliers(self) -> SqlAlchemySupplierRepository:
        return self._suppliers

    @property
    def inventory(self) -> SqlAlchemyInventoryRepository:
        return self._inventory

    @property
    def purchase_orders(self) -> SqlAlchemyPurchaseOrderRepository:
        return self._purchase_orders

    @property
    def shipments(self) -> SqlAlchemyShipmentRepository:
        return self._shipments
