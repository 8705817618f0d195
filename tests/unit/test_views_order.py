"""How tables order names and write ages (core.views)."""

from __future__ import annotations

import pytest

from swarmdeck.core.views import compact_age, natural_key


def test_natural_order_puts_f2_before_f10():
    names = ["f10", "f2", "F1", "web", "f2a", "db-10", "db-9"]
    assert sorted(names, key=natural_key) == ["db-9", "db-10", "F1", "f2", "f2a", "f10", "web"]


def test_natural_key_compares_names_that_start_with_digits_or_not():
    assert sorted(["10x", "x", "9x", ""], key=natural_key) == ["", "9x", "10x", "x"]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (59.9, "59s"), (60, "1m"), (12 * 60 + 30, "12m"),
    (3599, "59m"), (3 * 3600 + 59 * 60, "3h"), (86399, "23h"), (9 * 86400 + 5, "9d"),
    (400 * 86400, "400d"), (-5, "0s"),
])
def test_compact_age(seconds, text):
    assert compact_age(seconds) == text
