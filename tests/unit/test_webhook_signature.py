from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from makegood.adapters.channels.webhook import encode_payload, sign, verify_signature

SECRET = b"whsec_test"
BODY = b'{"action":"reship","order":{"id":"A-1"}}'
T = 1_740_830_400


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = sign(SECRET, BODY, T)
    expected = hmac.new(SECRET, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"


def test_verify_accepts_a_fresh_signature_and_refuses_the_rest() -> None:
    header = sign(SECRET, BODY, T)
    assert verify_signature(SECRET, header, BODY, now=T + 10)
    assert verify_signature(SECRET, header, BODY.decode(), now=datetime.fromtimestamp(T, UTC))
    assert not verify_signature(SECRET, header, BODY + b" ", now=T)
    assert not verify_signature(b"other", header, BODY, now=T)
    assert not verify_signature(SECRET, header, BODY, now=T + 301)
    assert verify_signature(SECRET, header, BODY, now=T + 301, tolerance=timedelta(minutes=10))
    assert not verify_signature(SECRET, "garbage", BODY, now=T)
    assert not verify_signature(SECRET, f"t={T}", BODY, now=T)
    assert not verify_signature(SECRET, "t=x,v1=00", BODY, now=T)


def test_any_of_several_signatures_may_match_during_secret_rotation() -> None:
    new = sign(SECRET, BODY, T).partition(",")[2]
    old = sign(b"old-secret", BODY, T).partition(",")[2]
    assert verify_signature(SECRET, f"t={T},{old},{new}", BODY, now=T)


def test_the_body_is_compact_sorted_utf8_json() -> None:
    assert encode_payload({"b": 1, "a": "ç"}) == '{"a":"ç","b":1}'.encode()
