from __future__ import annotations

import math
import re

import pytest

from makegood.adapters.voucher import ALPHABET, new_voucher_code


def test_codes_are_grouped_unambiguous_and_carry_60_bits() -> None:
    assert len(set(ALPHABET)) == 32
    assert not set("01IO") & set(ALPHABET)
    code = new_voucher_code()
    assert re.fullmatch(r"MG-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code)
    assert 12 * math.log2(len(ALPHABET)) >= 60


def test_codes_do_not_repeat() -> None:
    codes = {new_voucher_code() for _ in range(10_000)}
    assert len(codes) == 10_000


def test_prefix_and_shape_can_change() -> None:
    assert re.fullmatch(r"ACME-\w{5}-\w{5}", new_voucher_code("ACME", groups=2, group_size=5))
    assert re.fullmatch(r"\w{4}-\w{4}-\w{4}", new_voucher_code(""))
    with pytest.raises(ValueError):
        new_voucher_code(groups=0)


def test_every_position_draws_from_the_whole_alphabet() -> None:
    """Each symbol is its own 5 of the draw's bits: every position takes every symbol (with
    4,000 codes a position missing one of 32 has odds below 1e-50 if the draw is uniform)."""
    codes = [new_voucher_code("").replace("-", "") for _ in range(4_000)]
    for position in range(12):
        assert {code[position] for code in codes} == set(ALPHABET)
