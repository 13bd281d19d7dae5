from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared_kernel.domain import DateRange, InvalidValue, Money, Percentage, Quantity


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


class TestQuantity:
    def test_accepts_exact_numbers_and_normalises_to_decimal(self) -> None:
        assert Quantity(3).amount == Decimal(3)  # type: ignore[arg-type]
        assert Quantity("2.5", "kg").amount == Decimal("2.5")  # type: ignore[arg-type]
        assert Quantity(Decimal("1.25"), "box").unit == "box"

    def test_default_unit_is_each(self) -> None:
        assert Quantity(Decimal(1)).unit == "each"

    @pytest.mark.parametrize("amount", [0.5, True, None, "abc", "NaN", "Infinity", [1]])
    def test_inexact_or_non_numbers_are_refused(self, amount: object) -> None:
        with pytest.raises(InvalidValue) as caught:
            Quantity(amount)  # type: ignore[arg-type]
        assert caught.value.field == "quantity"

    def test_negative_is_refused(self) -> None:
        with pytest.raises(InvalidValue) as caught:
            Quantity(Decimal("-0.001"))
        assert caught.value.field == "quantity"

    @pytest.mark.parametrize("unit", ["", "KG", "1kg", "kilo gram", "a" * 17])
    def test_bad_units_are_refused(self, unit: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            Quantity(Decimal(1), unit)
        assert caught.value.field == "unit"

    def test_add_and_subtract_in_the_same_unit(self) -> None:
        five = Quantity(Decimal(5), "kg")
        two = Quantity(Decimal(2), "kg")

        assert five + two == Quantity(Decimal(7), "kg")
        assert five - two == Quantity(Decimal(3), "kg")
        assert (five - five).is_zero()

    def test_subtracting_below_zero_raises(self) -> None:
        with pytest.raises(InvalidValue) as caught:
            Quantity(Decimal(2)) - Quantity(Decimal(3))
        assert caught.value.field == "quantity"

    def test_units_never_mix(self) -> None:
        kg, box = Quantity(Decimal(1), "kg"), Quantity(Decimal(1), "box")

        for operation in (
            lambda: kg + box,
            lambda: kg - box,
            lambda: kg < box,
            lambda: kg <= box,
            lambda: kg > box,
            lambda: kg >= box,
        ):
            with pytest.raises(InvalidValue) as caught:
                operation()
            assert caught.value.field == "unit"

    def test_comparisons(self) -> None:
        one, two = Quantity(Decimal(1)), Quantity(Decimal(2))

        assert one < two
        assert one <= two
        assert one <= Quantity(Decimal("1.0"))
        assert two > one
        assert two >= one
        assert not two < one

    def test_equal_amounts_with_different_exponents_are_equal(self) -> None:
        assert Quantity(Decimal("1.0")) == Quantity(Decimal(1))
        assert hash(Quantity(Decimal("1.0"))) == hash(Quantity(Decimal(1)))

    def test_zero_and_str(self) -> None:
        assert Quantity.zero("kg") == Quantity(Decimal(0), "kg")
        assert Quantity.zero().is_zero()
        assert str(Quantity(Decimal("2.5"), "kg")) == "2.5 kg"


class TestMoney:
    def test_amount_is_held_at_the_currency_minor_unit(self) -> None:
        assert eur("12.5").amount.as_tuple().exponent == -2
        assert str(eur("12.5")) == "12.50 EUR"
        assert str(Money(Decimal(1000), "JPY")) == "1000 JPY"
        assert str(Money(Decimal("1.5"), "KWD")) == "1.500 KWD"

    def test_trailing_zero_decimals_are_fine(self) -> None:
        assert eur("1.2300") == eur("1.23")

    @pytest.mark.parametrize(
        ("amount", "currency"),
        [("0.001", "EUR"), ("1.5", "JPY"), ("0.0001", "BHD"), ("19.999", "USD")],
    )
    def test_more_decimals_than_the_currency_has_are_refused(
        self, amount: str, currency: str
    ) -> None:
        with pytest.raises(InvalidValue) as caught:
            Money(Decimal(amount), currency)
        assert caught.value.field == "amount"

    @pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", ""])
    def test_currency_must_be_an_iso_code(self, currency: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            Money(Decimal(1), currency)
        assert caught.value.field == "currency"

    @pytest.mark.parametrize("amount", [0.1, True, "sNaN", "-Infinity"])
    def test_inexact_or_non_finite_amounts_are_refused(self, amount: object) -> None:
        with pytest.raises(InvalidValue) as caught:
            Money(amount, "EUR")  # type: ignore[arg-type]
        assert caught.value.field == "amount"

    @pytest.mark.parametrize("amount", ["1E+40", "12345678901234567890123456789", "1e999999"])
    def test_amounts_too_large_to_hold_exactly_are_refused(self, amount: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            Money(Decimal(amount), "EUR")
        assert caught.value.field == "amount"

    def test_negative_amounts_are_allowed(self) -> None:
        assert -eur("3.10") == eur("-3.10")
        assert eur("1.00") - eur("3.10") == eur("-2.10")

    def test_addition_and_subtraction(self) -> None:
        assert eur("0.10") + eur("0.20") == eur("0.30")
        assert eur("1.00") - eur("0.01") == eur("0.99")

    def test_multiplication_rounds_half_even(self) -> None:
        assert eur("0.05") * Decimal("0.5") == eur("0.02")  # 0.025 -> 0.02
        assert eur("0.15") * Decimal("0.5") == eur("0.08")  # 0.075 -> 0.08
        assert eur("10.00") * 3 == eur("30.00")
        assert 3 * eur("10.00") == eur("30.00")
        assert eur("10.00") * "0.333" == eur("3.33")

    def test_multiplication_rounds_the_exact_product_once(self) -> None:
        # Cut to 28 digits first, this product would read 0.01500... and round up.
        factor = Decimal("0.01499999999999999999999999999999")

        assert eur("1.00") * factor == eur("0.01")

    def test_multiplication_refuses_floats(self) -> None:
        with pytest.raises(InvalidValue) as caught:
            eur("1.00") * 0.5  # type: ignore[operator]
        assert caught.value.field == "factor"

    def test_multiplication_overflow_is_refused(self) -> None:
        with pytest.raises(InvalidValue):
            eur("10.00") * Decimal("1E+30")

    def test_currencies_never_mix(self) -> None:
        usd = Money(Decimal(1), "USD")

        for operation in (
            lambda: eur("1") + usd,
            lambda: eur("1") - usd,
            lambda: eur("1") < usd,
            lambda: eur("1") <= usd,
        ):
            with pytest.raises(InvalidValue) as caught:
                operation()
            assert caught.value.field == "currency"

    def test_comparisons_and_zero(self) -> None:
        assert eur("1.00") < eur("1.01")
        assert eur("1.00") <= eur("1")
        assert Money.zero("EUR") == eur("0")
        assert Money.zero("JPY").minor_units == 0


class TestPercentage:
    @pytest.mark.parametrize("value", ["0", "100", "42.5"])
    def test_bounds_are_inclusive(self, value: str) -> None:
        assert Percentage(Decimal(value)).value == Decimal(value)

    @pytest.mark.parametrize("value", ["-0.01", "100.01", "1000"])
    def test_outside_zero_to_hundred_is_refused(self, value: str) -> None:
        with pytest.raises(InvalidValue) as caught:
            Percentage(Decimal(value))
        assert caught.value.field == "percentage"

    def test_from_ratio_rounds_half_even_to_the_requested_places(self) -> None:
        assert Percentage.from_ratio(1, 3) == Percentage(Decimal("33.33"))
        assert Percentage.from_ratio(2, 3) == Percentage(Decimal("66.67"))
        assert Percentage.from_ratio(1, 8, places=1) == Percentage(Decimal("12.5"))
        assert Percentage.from_ratio(1, 16, places=1).value == Decimal("6.2")  # 6.25
        assert Percentage.from_ratio(3, 16, places=1).value == Decimal("18.8")  # 18.75

    def test_from_ratio_of_the_whole_is_a_hundred(self) -> None:
        assert Percentage.from_ratio(Decimal("7.5"), "7.5").value == Decimal(100)

    def test_from_ratio_needs_a_positive_whole(self) -> None:
        for whole in (0, -1):
            with pytest.raises(InvalidValue) as caught:
                Percentage.from_ratio(0, whole)
            assert caught.value.field == "whole"

    def test_from_ratio_refuses_a_part_larger_than_the_whole(self) -> None:
        with pytest.raises(InvalidValue):
            Percentage.from_ratio(4, 3)

    def test_as_ratio_and_str(self) -> None:
        assert Percentage(Decimal("12.5")).as_ratio() == Decimal("0.125")
        assert str(Percentage(Decimal("12.5"))) == "12.5%"


class TestDateRange:
    def test_both_ends_are_included(self) -> None:
        march = DateRange(date(2024, 3, 1), date(2024, 3, 31))

        assert march.days == 31
        assert date(2024, 3, 1) in march
        assert date(2024, 3, 31) in march
        assert date(2024, 2, 29) not in march
        assert date(2024, 4, 1) not in march

    def test_a_single_day_range(self) -> None:
        day = DateRange(date(2024, 2, 29), date(2024, 2, 29))

        assert day.days == 1
        assert date(2024, 2, 29) in day

    def test_end_before_start_is_refused(self) -> None:
        with pytest.raises(InvalidValue) as caught:
            DateRange(date(2024, 3, 2), date(2024, 3, 1))
        assert caught.value.field == "end"

    def test_overlaps_is_symmetric_and_counts_touching_days(self) -> None:
        first = DateRange(date(2024, 1, 1), date(2024, 1, 10))
        touching = DateRange(date(2024, 1, 10), date(2024, 1, 20))
        after = DateRange(date(2024, 1, 11), date(2024, 1, 20))
        inside = DateRange(date(2024, 1, 3), date(2024, 1, 4))

        assert first.overlaps(touching)
        assert touching.overlaps(first)
        assert not first.overlaps(after)
        assert not after.overlaps(first)
        assert first.overlaps(inside)
        assert inside.overlaps(first)

    def test_shifted_moves_both_ends_and_keeps_the_length(self) -> None:
        original = DateRange(date(2024, 2, 28), date(2024, 3, 1))

        moved = original.shifted(2)

        assert moved == DateRange(date(2024, 3, 1), date(2024, 3, 3))
        assert moved.days == original.days
        assert original.shifted(-28) == DateRange(date(2024, 1, 31), date(2024, 2, 2))
