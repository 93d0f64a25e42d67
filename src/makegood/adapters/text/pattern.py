"""Cue and category patterns of the rules, compiled once and matched in every language.

Python's `re` tries every alternative at every word of a text, which for a policy's few
hundred alternatives costs far more than the lexicon itself. So each pattern is indexed by the
literal text it must start with (up to eight characters, read from its parsed form), and a
pattern runs only on a text that has a word starting that way. A pattern whose start cannot be
read (a class, a wildcard, no leading ``\\b``) always runs: the index only skips work, it never
changes a result.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from makegood.domain.text import CUES, TextRules

PREFIX = 8  # longer starts pick fewer words to try
_WORD = re.compile(r"\w+")
# A category pattern's match is not evidence when one of the two words before it, in the same
# clause, negates it: "not late", "there was no delay", "nothing broken", "não atrasou",
# "sem atraso". A pattern that holds its own negation ("never arrived", "não recebi") starts
# with it, so only what comes before is looked at.
NEGATORS = frozenset(
    "not no never nothing none nobody without neither nor cannot dont didnt doesnt isnt wasnt "
    "werent arent hasnt havent hadnt wont cant couldnt wouldnt shouldnt "
    "nao nem nunca nada sem nenhum nenhuma ninguem jamais".split()
)
NEGATION_WINDOW = 2  # words
_CLAUSE = re.compile(r"[.!?;,:\n]")
_WORDS_BEFORE = re.compile(r"[\w'’]+")
_parser: Any = importlib.import_module("re._parser")
_const: Any = importlib.import_module("re._constants")


class PatternMatcher:
    """Matches folded text (`makegood.domain.text.fold`) against the rules' patterns."""

    def __init__(self, rules: TextRules) -> None:
        owners: list[tuple[str, str]] = []  # ("cue" | "category", name) of each pattern
        sources: list[str] = []
        for name in CUES:
            for per_language in rules.cues.get(name, {}).values():
                owners += [("cue", name)] * len(per_language)
                sources += per_language
        negatable: list[bool] = [False] * len(sources)
        for c in rules.categories:
            for per_language in c.patterns.values():
                owners += [("category", c.name)] * len(per_language)
                sources += per_language
                negatable += [c.negatable] * len(per_language)
        self._negatable = negatable
        self._owners = owners
        self._regexes = [re.compile(p) for p in sources]
        self._always: list[int] = []
        index: dict[str, list[int]] = {}
        for i, source in enumerate(sources):
            starts = _prefixes(source)
            if starts is None:
                self._always.append(i)
            for start in starts or ():
                index.setdefault(start, []).append(i)
        # A word starting with a key also starts with every shorter key that is its prefix.
        self._index = {
            key: sorted({i for n in range(1, len(key) + 1) for i in index.get(key[:n], ())})
            for key in index
        }
        # One scan in C finds the words that start like some pattern: a regex over the trie of
        # all starts, which matches the longest one.
        self._starts = re.compile(r"\b(" + _trie(set(index)) + ")") if index else None

    def match(self, folded: str) -> tuple[dict[str, bool], dict[str, int]]:
        """(cues, pattern matches per category that matched at all) for one folded text."""
        cues, hits, _ = self.match_negated(folded)
        return cues, hits

    def match_negated(self, folded: str) -> tuple[dict[str, bool], dict[str, int], int]:
        """(cues, pattern matches per category, category matches a negation cancelled).

        A pattern is tried only at the words starting the way it must start, with
        ``regex.match(text, position)``: the same matches as ``regex.finditer(text)`` gives,
        since it can match nowhere else.
        """
        positions: dict[int, list[int]] = {}
        for word in self._starts.finditer(folded) if self._starts else ():
            start = word.start()
            for i in self._index[word.group()]:
                positions.setdefault(i, []).append(start)
        cues = dict.fromkeys(CUES, False)
        hits: dict[str, int] = {}
        cancelled = 0
        for i in self._always:
            negatable, count = self._negatable[i], 0
            for each in self._regexes[i].finditer(folded):
                if negatable and negated(folded, each.start()):
                    cancelled += 1
                else:
                    count += 1
            self._record(i, count, cues, hits)
        for i, starts in positions.items():
            regex, count, end = self._regexes[i], 0, -1
            negatable = self._negatable[i]
            for position in starts:  # in order; a match may not overlap the one before
                if position >= end and (found := regex.match(folded, position)):
                    end = max(found.end(), position + 1)
                    if negatable and negated(folded, position):
                        cancelled += 1
                    else:
                        count += 1
            self._record(i, count, cues, hits)
        return cues, hits, cancelled

    def _record(self, i: int, count: int, cues: dict[str, bool], hits: dict[str, int]) -> None:
        if count:
            kind, name = self._owners[i]
            if kind == "cue":
                cues[name] = True
            else:
                hits[name] = hits.get(name, 0) + count

    def cues(self, folded: str) -> dict[str, bool]:
        return self.match(folded)[0]

    def category_hits(self, folded: str) -> dict[str, int]:
        return self.match(folded)[1]


def negated(folded: str, start: int) -> bool:
    """Whether one of the `NEGATION_WINDOW` words before `start`, in its clause, negates."""
    before = folded[max(0, start - 60) : start]
    clause = _CLAUSE.split(before)[-1]
    words = _WORDS_BEFORE.findall(clause)[-NEGATION_WINDOW:]
    return any(
        w.replace("'", "").replace("’", "") in NEGATORS or w.endswith(("n't", "n’t")) for w in words
    )


def _prefixes(pattern: str) -> set[str] | None:
    """The literal starts a match of `pattern` can have, or None if they cannot be read."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None
    found = _expand(list(parsed), need_boundary=True)
    if found is None:
        return None
    # A start is looked up among a text's words, so it ends at the first non-word character.
    starts = {_word_part(s) for s, _ in found}
    return None if "" in starts else starts


def _word_part(prefix: str) -> str:
    match = _WORD.match(prefix)
    return match.group() if match else ""


def _expand(items: list[Any], *, need_boundary: bool) -> set[tuple[str, bool]] | None:
    """(prefix, closed) pairs for a sequence of parsed items; None if a start is unreadable."""
    results: set[tuple[str, bool]] = {("", False)}
    bounded = not need_boundary
    for op, av in items:
        if all(closed for _, closed in results):
            break
        if op is _const.AT and av is _const.AT_BOUNDARY:
            bounded = True
            continue
        if not bounded:
            return None  # only an anchored pattern can be looked up by its words' starts
        if op is _const.LITERAL:
            alternatives: set[tuple[str, bool]] | None = {(chr(av), False)}
        elif op is _const.SUBPATTERN:
            alternatives = _expand(list(av[3]), need_boundary=False)
        elif op is _const.BRANCH:
            alternatives = set()
            for branch in av[1]:
                sub = _expand(list(branch), need_boundary=False)
                if sub is None:
                    return None
                alternatives |= sub
        elif op is _const.IN:
            chars = _chars(av)
            alternatives = {(c, False) for c in chars} if chars else {("", True)}
        elif op in (_const.MAX_REPEAT, _const.MIN_REPEAT):
            low, high, sub = av
            inner = _expand(list(sub), need_boundary=False)
            if inner is None:
                return None
            if low == 1 and high == 1:
                alternatives = inner
            else:  # past one repetition the literal start is no longer known
                alternatives = {(s, True) for s, _ in inner}
            if low == 0:
                alternatives |= {("", False) if high == 1 else ("", True)}
        else:
            alternatives = {("", True)}  # a wildcard, a backreference: the start ends here
        if alternatives is None:
            return None
        results = {
            (joined[:PREFIX], a_closed or len(joined) >= PREFIX) if not closed else (prefix, closed)
            for prefix, closed in results
            for a, a_closed in (alternatives if not closed else {("", True)})
            for joined in (prefix + a,)
        }
        if len(results) > 5000:
            return None
    return results


def _chars(av: list[tuple[Any, Any]]) -> set[str] | None:
    """The characters of a small, positive class such as ``[ao]`` or ``\\d``; else None."""
    chars: set[str] = set()
    for op, value in av:
        if op is _const.LITERAL:
            chars.add(chr(value))
        elif op is _const.RANGE and value[1] - value[0] < 16:
            chars.update(chr(c) for c in range(value[0], value[1] + 1))
        elif op is _const.CATEGORY and value is _const.CATEGORY_DIGIT:
            chars.update("0123456789")
        else:
            return None
    return chars


def _trie(keys: set[str]) -> str:
    """A regex matching any of `keys` (longest first), shaped as a trie so it scans fast."""
    children: dict[str, set[str]] = {}
    for key in keys:
        if key:
            children.setdefault(key[0], set()).add(key[1:])
    branches = [re.escape(first) + _trie(rest) for first, rest in sorted(children.items())]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in keys else body
