"""Voucher codes: unguessable, easy to read aloud and to type.

The alphabet has 32 symbols: the digits 2-9 and the letters without I and O, so nothing looks
like 0 or 1. Each symbol carries 5 bits; the default three groups of four give 60 random bits
(``MG-7KQ4-X9PW-2MDT``), drawn from `secrets`.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_voucher_code(prefix: str = "MG", groups: int = 3, group_size: int = 4) -> str:
    """A fresh code like ``MG-7KQ4-X9PW-2MDT``; ``groups * group_size * 5`` bits of entropy."""
    if groups < 1 or group_size < 1:
        raise ValueError("groups and group_size must be positive")
    bits = secrets.randbits(5 * groups * group_size)  # one draw: 32 symbols are 5 bits each
    symbols = [ALPHABET[(bits >> (5 * i)) & 31] for i in range(groups * group_size)]
    parts = ["".join(symbols[g * group_size : (g + 1) * group_size]) for g in range(groups)]
    return "-".join([prefix, *parts]) if prefix else "-".join(parts)
