"""Derive the combined tier's score constants from messages written for it, never from
evaluation data.

    .venv/bin/python bench/text_calibrate.py [--show]

Reads bench/own_texts.py (hand-written messages, English and Portuguese, labelled by mood and
failure) and derives `Calibration`'s ``lean_*`` and ``failure_*`` (`adapters/text/combined.py`):
- each centre is the signal's mean over the neutral messages (a neutral message moves nowhere);
- each weight is, in lexicon units, the lexicon score's spread over the spread of the signal,
  times a round weight in {0.25, 0.5, 1, 1.5, 2}: the pair of round weights that ranks these
  messages best (unhappy AUC) is chosen.
It prints, for the lexicon tier, the shipped `Calibration` and the derived one: mood macro
recall, unhappy AUC, category macro recall and the share of complaints without a category;
then the derived constants, to be copied into `Calibration`. `--show` prints each message the
shipped calibration misreads.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from own_texts import TEXTS  # noqa: E402
from text_eval import LABELS, macro_recall, roc_auc  # noqa: E402

ROUND = (0.25, 0.5, 1.0, 1.5, 2.0)


def figures(analyses: Sequence[Any]) -> dict[str, float]:
    moods = [m for _, m, _ in TEXTS]
    categories = [c for _, _, c in TEXTS]
    unhappy = [m == "negative" for m in moods]
    pairs = [(c, a.category) for c, a in zip(categories, analyses, strict=True) if c]
    classes = sorted({c for c, _ in pairs})
    complaints = [a for a, m in zip(analyses, moods, strict=True) if m == "negative"]
    return {
        "mood": macro_recall(moods, [a.label for a in analyses], LABELS),
        "auc": roc_auc(unhappy, [-a.sentiment for a in analyses]),
        "category": macro_recall([c for c, _ in pairs], [p or "" for _, p in pairs], classes),
        "missing": sum(a.category is None for a in complaints) / len(complaints),
    }


def line(name: str, f: dict[str, float]) -> str:
    return (
        f"{name:<28} mood macro recall {f['mood']:.3f}  unhappy AUC {f['auc']:.3f}  "
        f"category macro recall {f['category']:.3f}  complaints without a category "
        f"{f['missing']:.1%}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print what the defaults misread")
    args = parser.parse_args(argv)
    from makegood.adapters.text.embedding import EmbeddingAnalyzer
    from makegood.adapters.text.rules import load_default_rules

    rules = load_default_rules()
    analyzer = EmbeddingAnalyzer(rules)
    texts = [t for t, _, _ in TEXTS]
    vectors = analyzer.embed(texts)
    floor = figures(analyzer.lexicon.analyze_many(texts))
    print(f"{len(texts)} messages written for this (bench/own_texts.py)")
    print(line("lexicon tier", floor))
    shipped = analyzer.analyze_embedded(texts, vectors)
    print(line("combined, shipped", figures(shipped)))
    if args.show:
        for (text, mood, category), a in zip(TEXTS, shipped, strict=True):
            if a.label != mood or (category and a.category != category):
                print(f"  {mood}/{category} read {a.label}/{a.category} ({a.sentiment}): {text}")
    import numpy as np

    evidence = [analyzer.lexicon.evidence(t) for t in texts]
    near = [analyzer.prototypes.nearness(v, analyzer.calibration.nearest) for v in vectors]
    lexicon = np.array([e.sentiment for e in evidence])
    lean = np.array([n.lean for n in near])
    failure = np.array([n.failure for n in near])
    neutral = np.array([m == "neutral" for _, m, _ in TEXTS])
    best: tuple[float, Any, dict[str, float]] | None = None
    for a, b in itertools.product(ROUND, ROUND):
        calibration = replace(
            analyzer.calibration,
            lean_weight=round(float(a * lexicon.std() / lean.std()), 2),
            lean_center=round(float(lean[neutral].mean()), 4),
            failure_weight=round(float(b * lexicon.std() / failure.std()), 2),
            failure_center=round(float(failure[neutral].mean()), 4),
        )
        analyzer.calibration = calibration
        f = figures(analyzer.analyze_embedded(texts, vectors))
        if best is None or f["auc"] > best[2]["auc"] + 1e-9:
            best = (a + b, calibration, f)
    assert best is not None
    print(line("combined, derived here", best[2]))
    print(
        "derived: "
        + ", ".join(
            f"{name}={getattr(best[1], name)}"
            for name in ("lean_weight", "lean_center", "failure_weight", "failure_center")
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
