"""The verification snippet in docs/WEBHOOKS.md works as printed."""

from __future__ import annotations

import re
import time
from pathlib import Path

from makegood.adapters.channels.webhook import encode_payload, sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "WEBHOOKS.md"


def test_the_standard_library_snippet_agrees_with_makegood() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    [snippet] = [b for b in blocks if "def verify_makegood_signature" in b]
    namespace: dict[str, object] = {}
    exec(compile(snippet, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify_makegood_signature"]
    assert callable(verify)
    body = encode_payload({"action": "reship", "order": {"id": "A-77", "value": "19.90"}})
    header = sign(b"secret", body, int(time.time()))
    assert verify(b"secret", header, body)
    assert not verify(b"secret", header, body.replace(b"19.90", b"99.90"))
    assert not verify(b"other", header, body)
    assert not verify(b"secret", sign(b"secret", body, int(time.time()) - 301), body)
