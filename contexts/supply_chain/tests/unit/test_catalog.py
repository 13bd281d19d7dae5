from decimal import Decimal

import pytest

from contexts.supply_chain.domain import (
    GeoLocation,
    InventoryItemId,
    ReplenishmentPolicy,
    Sku,
    SkuCode,
    Supplier,
    SupplierId,
    Warehouse,
    WarehouseCode,
)
from contexts.supply_chain.domain.catalog.events import (
    SkuRegistered,
    SupplierRegistered,
    WarehouseRegistered,
)
from contexts.supply_chain.tests.unit.examples import ACME, HUB, T0, W1, each
from shared_kernel.domain import BusinessRuleViolation, InvalidValue, Money, Quantity

LYON = GeoLocation(Decimal("45.7640"), Decimal("4.8357"))


def warehouse(capacity: Quantity = each(1000)) -> Warehouse:
    return Warehouse.register(W1, "Lyon Saint-Exupéry", LYON, capacity, at=T0)


@pytest.mark.parametrize("text", ["", "has space", "a:b", "-leading", "x" * 41])
def test_codes_are_short_and_url_safe(text):
    with pytest.raises(InvalidValue):
        WarehouseCode(text)
    with pytest.raises(InvalidValue):
        SkuCode(text)


def test_typed_ids_of_different_kinds_never_match():
    assert WarehouseCode("A1") != SkuCode("A1")
    assert str(InventoryItemId.of(W1, HUB)) == "LYS-1:KD-HUB-200"


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [("90.1", "0"), ("-90.1", "0"), ("0", "180.5"), ("0", "-181"), ("NaN", "0")],
)
def test_coordinates_stay_on_the_globe(latitude, longitude):
    with pytest.raises(InvalidValue):
        GeoLocation(Decimal(latitude), Decimal(longitude))


def test_coordinates_are_exact():
    with pytest.raises(InvalidValue):
        GeoLocation(45.76, 4.83)  # type: ignore[arg-type]
    assert GeoLocation("90", "-180") == GeoLocation(Decimal(90), Decimal(-180))  # type: ignore[arg-type]


def test_registering_a_warehouse_publishes_it():
    registered = warehouse()

    [event] = registered.pull_events()
    assert isinstance(event, WarehouseRegistered)
    assert (event.warehouse, event.name, event.capacity, event.capacity_unit) == (
        "LYS-1",
        "Lyon Saint-Exupéry",
        1000,
        "each",
    )
    assert (event.latitude, event.longitude) == (LYON.latitude, LYON.longitude)


def test_a_warehouse_has_a_name_and_some_capacity():
    with pytest.raises(InvalidValue):
        Warehouse(W1, "  ", LYON, each(10))
    with pytest.raises(InvalidValue):
        Warehouse(W1, "Lyon", LYON, each(0))


def test_stock_that_fits_is_accepted_up_to_the_last_unit():
    warehouse().ensure_room_for(each(100), stored=each(900))


def test_stock_beyond_capacity_is_refused():
    with pytest.raises(BusinessRuleViolation) as refused:
        warehouse().ensure_room_for(each(101), stored=each(900))

    assert refused.value.rule == "warehouse_capacity_exceeded"


def test_an_overfull_warehouse_has_no_room_left():
    assert warehouse().room_left(each(1200)) == each(0)


def test_stock_in_another_unit_than_the_capacity_is_not_counted_against_it():
    kilos = Quantity(Decimal(5000), "kg")

    warehouse().ensure_room_for(kilos, stored=Quantity(Decimal(0), "kg"))
    assert warehouse().room_left(kilos) is None


def test_registering_a_sku_publishes_its_policy_and_sourcing():
    policy = ReplenishmentPolicy(each(80), each(50), lead_time_days=7)

    sku = Sku.register(
        HUB,
        "Kestrel Hub 200",
        policy,
        preferred_supplier=ACME,
        standard_cost=Money(18, "EUR"),
        at=T0,
    )

    assert sku.policy == policy
    assert sku.quantity(3) == each(3)
    [event] = sku.pull_events()
    assert isinstance(event, SkuRegistered)
    assert (event.sku, event.unit, event.reorder_point, event.safety_stock) == (
        "KD-HUB-200",
        "each",
        80,
        50,
    )
    assert (event.lead_time_days, event.preferred_supplier) == (7, "ACME")
    assert event.standard_cost == Money(18, "EUR")


def test_a_standard_cost_is_positive():
    policy = ReplenishmentPolicy(each(1), each(0), lead_time_days=1)

    with pytest.raises(InvalidValue):
        Sku(HUB, "Hub", policy, standard_cost=Money(0, "EUR"))


def test_registering_a_supplier_publishes_it():
    supplier = Supplier.register(SupplierId("ACME"), "Acme Components", "DE", at=T0)

    [event] = supplier.pull_events()
    assert isinstance(event, SupplierRegistered)
    assert (event.supplier, event.name, event.country) == ("ACME", "Acme Components", "DE")


@pytest.mark.parametrize("country", ["de", "DEU", ""])
def test_a_supplier_country_is_an_iso_code(country):
    with pytest.raises(InvalidValue):
        Supplier(SupplierId("ACME"), "Acme", country)
