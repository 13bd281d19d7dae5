"""Properties of the shared value types, checked on generated inputs."""

from __future__ import annotations

import operator
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared_kernel.domain import InvalidValue, Money, Percentage, Quantity, Urn

# No deadline: a slow machine must not turn a correct property into a failure. No
# example database either: unit tests write no files.
prop = settings(deadline=None, database=None)

CURRENCIES = ["EUR", "USD", "JPY", "KWD", "CHF"]
MINOR_UNITS = {"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "CHF": 2}
# Amounts far beyond any real price, yet well within 28 significant digits.
LIMIT = 10**15


@st.composite
def money_in(draw: st.DrawFn, currency: str) -> Money:
    units = draw(st.integers(min_value=-LIMIT, max_value=LIMIT))
    return Money(Decimal(units).scaleb(-MINOR_UNITS[currency]), currency)


@st.composite
def same_currency(draw: st.DrawFn, count: int) -> list[Money]:
    currency = draw(st.sampled_from(CURRENCIES))
    return [draw(money_in(currency)) for _ in range(count)]


class TestMoneyProperties:
    @prop
    @given(same_currency(2))
    def test_adding_then_subtracting_gives_back_the_original(self, pair: list[Money]) -> None:
        a, b = pair
        assert a + b - b == a

    @prop
    @given(same_currency(2))
    def test_addition_is_commutative(self, pair: list[Money]) -> None:
        a, b = pair
        assert a + b == b + a

    @prop
    @given(same_currency(3))
    def test_addition_is_associative(self, triple: list[Money]) -> None:
        a, b, c = triple
        assert (a + b) + c == a + (b + c)

    @prop
    @given(same_currency(1), st.integers(min_value=0, max_value=40))
    def test_multiplying_by_an_int_is_repeated_addition(self, one: list[Money], n: int) -> None:
        [a] = one
        total = Money.zero(a.currency)
        for _ in range(n):
            total = total + a
        assert a * n == total
        assert n * a == total
        assert a * -n == -total

    @prop
    @given(
        st.sampled_from(CURRENCIES).flatmap(money_in),
        st.sampled_from(CURRENCIES).flatmap(money_in),
    )
    def test_currencies_never_mix(self, a: Money, b: Money) -> None:
        assume(a.currency != b.currency)
        for operation in (lambda: a + b, lambda: a - b, lambda: a < b, lambda: a <= b):
            with pytest.raises(InvalidValue) as caught:
                operation()
            assert caught.value.field == "currency"

    @prop
    @given(
        st.sampled_from(CURRENCIES),
        st.integers(min_value=-LIMIT, max_value=LIMIT).filter(lambda n: n % 10 != 0),
        st.integers(min_value=1, max_value=6),
    )
    def test_amounts_with_too_many_decimals_are_refused(
        self, currency: str, digits: int, extra: int
    ) -> None:
        # The last digit is non-zero and sits ``extra`` places beyond the minor unit.
        amount = Decimal(digits).scaleb(-(MINOR_UNITS[currency] + extra))
        with pytest.raises(InvalidValue) as caught:
            Money(amount, currency)
        assert caught.value.field == "amount"

    @prop
    @given(st.sampled_from(CURRENCIES).flatmap(money_in))
    def test_amounts_are_always_held_at_the_minor_unit(self, a: Money) -> None:
        assert a.amount.as_tuple().exponent == -a.minor_units


amounts = st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False)


class TestQuantityProperties:
    @prop
    @given(amounts, st.lists(st.tuples(st.booleans(), amounts), max_size=30))
    def test_never_negative_whatever_the_sequence(
        self, start: Decimal, steps: list[tuple[bool, Decimal]]
    ) -> None:
        current = Quantity(start, "kg")
        for is_addition, amount in steps:
            step = Quantity(amount, "kg")
            expected = current.amount + amount if is_addition else current.amount - amount

            apply = operator.add if is_addition else operator.sub
            if expected < 0:
                # A negative outcome is refused, and the quantity stays what it was.
                with pytest.raises(InvalidValue) as refused:
                    apply(current, step)
                assert refused.value.field == "quantity"
                continue
            result = apply(current, step)
            assert result.amount >= 0
            assert result.amount == expected
            current = result
        assert current.amount >= 0


snake = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
id_part = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,15}", fullmatch=True)
# Ids made of one to four parts joined by ':' (a part of the id may be a URN-ish path).
urn_ids = st.lists(id_part, min_size=1, max_size=4).map(":".join)


class TestUrnProperties:
    @prop
    @given(snake, snake, urn_ids)
    def test_parse_of_str_round_trips(self, context: str, entity: str, id: str) -> None:
        urn = Urn(context, entity, id)

        assert Urn.parse(str(urn)) == urn

    @prop
    @given(snake, snake, id_part, id_part)
    def test_ids_with_colons_keep_them(
        self, context: str, entity: str, head: str, tail: str
    ) -> None:
        urn = Urn.parse(f"urn:dpmesh:{context}:{entity}:{head}:{tail}")

        assert urn.id == f"{head}:{tail}"
        assert (urn.context, urn.entity) == (context, entity)


class TestPercentageProperties:
    @prop
    @given(
        st.integers(min_value=1, max_value=10**12),
        st.data(),
        st.integers(min_value=0, max_value=4),
        st.integers(min_value=0, max_value=6),
    )
    def test_from_ratio_stays_within_bounds(
        self, whole_units: int, data: st.DataObject, scale: int, places: int
    ) -> None:
        part_units = data.draw(st.integers(min_value=0, max_value=whole_units))
        part = Decimal(part_units).scaleb(-scale)
        whole = Decimal(whole_units).scaleb(-scale)

        share = Percentage.from_ratio(part, whole, places=places)

        assert Decimal(0) <= share.value <= Decimal(100)
        if part == whole:
            assert share.value == 100
        if part == 0:
            assert share.value == 0
