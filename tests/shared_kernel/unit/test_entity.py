from __future__ import annotations

import pytest

from shared_kernel.domain import BusinessRuleViolation, DomainEvent, Entity
from tests.shared_kernel.sample_domain import (
    Counter,
    CounterId,
    CounterOpened,
    Incremented,
    Tally,
    TallyId,
)


class Person(Entity[CounterId]):
    def __init__(self, id: CounterId, name: str) -> None:
        super().__init__(id)
        self.name = name


class Robot(Entity[CounterId]):
    pass


class TestEntity:
    def test_same_type_and_id_are_equal_whatever_the_other_attributes(self) -> None:
        first = Person(CounterId("p-1"), "Ada")
        renamed = Person(CounterId("p-1"), "Grace")

        assert first == renamed
        assert hash(first) == hash(renamed)
        assert len({first, renamed}) == 1

    def test_different_ids_are_not_equal(self) -> None:
        assert Person(CounterId("p-1"), "Ada") != Person(CounterId("p-2"), "Ada")

    def test_different_types_with_the_same_id_are_not_equal(self) -> None:
        person = Person(CounterId("x-1"), "Ada")
        robot = Robot(CounterId("x-1"))

        assert person != robot
        assert robot != person

    def test_an_entity_is_not_equal_to_its_bare_id(self) -> None:
        assert Robot(CounterId("x-1")) != CounterId("x-1")

    def test_repr_names_type_and_id(self) -> None:
        assert repr(Robot(CounterId("r2"))) == "Robot(id=r2)"


class TestAggregateRoot:
    def test_a_new_aggregate_has_version_zero_and_no_events(self) -> None:
        counter = Counter(CounterId("c-1"))

        assert counter.version == 0
        assert counter.pending_events == ()
        assert counter.pull_events() == []

    def test_recorded_events_are_stamped_with_aggregate_id_and_next_version(self) -> None:
        counter = Counter.open(CounterId("c-1"))
        counter.increment(2)
        counter.increment(3)

        events = counter.pending_events
        assert [type(e) for e in events] == [CounterOpened, Incremented, Incremented]
        assert [e.aggregate_id for e in events] == ["c-1", "c-1", "c-1"]
        assert [e.aggregate_version for e in events] == [1, 2, 3]
        assert counter.version == 3
        last = events[-1]
        assert isinstance(last, Incremented)
        assert (last.by, last.total) == (3, 5)

    def test_record_returns_the_stamped_event_and_keeps_its_identity_fields(self) -> None:
        counter = Counter(CounterId("c-9"), version=7)
        original = Incremented(by=1, total=1)

        stamped = counter._record(original)

        assert stamped.aggregate_id == "c-9"
        assert stamped.aggregate_version == 8
        assert stamped.event_id == original.event_id
        assert stamped.occurred_at == original.occurred_at
        assert original.aggregate_id == ""  # the caller's instance is untouched (frozen)

    def test_versions_continue_from_a_loaded_version(self) -> None:
        counter = Counter(CounterId("c-1"), total=10, version=41)

        counter.increment()

        assert counter.version == 42
        assert counter.pending_events[0].aggregate_version == 42

    def test_pull_events_hands_over_the_events_once(self) -> None:
        counter = Counter.open(CounterId("c-1"))
        counter.increment()

        pulled = counter.pull_events()

        assert len(pulled) == 2
        assert counter.pending_events == ()
        assert counter.pull_events() == []
        assert counter.version == 2  # pulling does not rewind the version

    def test_events_recorded_after_a_pull_are_pending_again(self) -> None:
        counter = Counter.open(CounterId("c-1"))
        counter.pull_events()

        counter.increment(4)

        [event] = counter.pull_events()
        assert isinstance(event, Incremented)
        assert event.aggregate_version == 2

    def test_a_refused_change_records_nothing(self) -> None:
        counter = Counter(CounterId("c-1"))

        with pytest.raises(BusinessRuleViolation):
            counter.increment(0)

        assert counter.pending_events == ()
        assert counter.version == 0

    def test_aggregates_do_not_share_pending_events(self) -> None:
        first = Counter.open(CounterId("c-1"))
        second = Counter(CounterId("c-2"))

        assert len(first.pending_events) == 1
        assert second.pending_events == ()

    def test_pending_events_survive_an_object_rebuilt_without_init(self) -> None:
        # An ORM materialises rows with __new__ and sets attributes directly.
        counter = Counter.__new__(Counter)
        counter.__dict__.update(id=CounterId("c-1"), total=3, version=3)

        counter.increment()

        [event] = counter.pull_events()
        assert isinstance(event, DomainEvent)
        assert event.aggregate_version == 4

    def test_aggregate_equality_is_by_type_and_id(self) -> None:
        assert Counter(CounterId("a"), total=1) == Counter(CounterId("a"), total=2)
        assert Counter(CounterId("a")) != Tally(TallyId("a"))
