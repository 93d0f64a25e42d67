"""How well short messages' language is told, with and without the customer's known locale.

    .venv/bin/python bench/text_language.py

Reads the hand-written messages of bench/short_texts.py (Portuguese and English, each with the
label a person gives it) through the lexicon tier three ways: the detector alone (no locale
known), with the customer's locale known and right, and with it known and wrong (a profile
saying English for a customer who writes Portuguese, and the reverse). Prints, per language and
length (under 20 characters, 20 or more), how often the language is right and how often the
label (negative / neutral / positive) is the person's.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from short_texts import EN, PT

SHORT = 20
OTHER = {"pt": "en", "en": "pt"}


def bucket(text: str) -> str:
    return f"< {SHORT} chars" if len(text) < SHORT else f">= {SHORT} chars"


def main(argv: Sequence[str] | None = None) -> int:
    from makegood.adapters.text.lexicon import LexiconAnalyzer
    from makegood.adapters.text.rules import load_default_rules

    analyzer = LexiconAnalyzer(load_default_rules())
    print("| language | length | n | prior | language right | label right |")
    print("|---|---|---|---|---|---|")
    for language, rows in (("pt", PT), ("en", EN)):
        for size in (f"< {SHORT} chars", f">= {SHORT} chars"):
            texts = [(t, label) for t, label in rows if bucket(t) == size]
            for prior_name, prior in (
                ("none", None),
                ("right", language),
                ("wrong", OTHER[language]),
            ):
                results = analyzer.analyze_many([t for t, _ in texts], [prior] * len(texts))
                lang_ok = sum(r.language == language for r in results)
                label_ok = sum(
                    r.label == label for r, (_, label) in zip(results, texts, strict=True)
                )
                n = len(texts)
                print(
                    f"| {language} | {size} | {n} | {prior_name} | "
                    f"{lang_ok / n:.0%} ({lang_ok}) | {label_ok / n:.0%} ({label_ok}) |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
