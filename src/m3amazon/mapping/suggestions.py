"""SKU match suggestions: for an Amazon SKU M3 does not know, the M3 items it most likely is.

An operator resolving an `UNKNOWN_SKU` incident should pick from the three best candidates rather
than search M3 by hand. Candidates are scored on two signals:

- the SKU against M3 item numbers and aliases (sellers often derive SKUs from them: "6204-2RS-SKF"
  vs item "SKF6204-2RS"), with `fuzz.ratio` on normalised text (upper case, letters and digits only);
- the Amazon title against the M3 item name: first `fuzz.ratio` on words sorted alphabetically
  (word order does not matter) for every item, then `fuzz.token_set_ratio` (extra words such as
  the brand do not matter either) on the shortlist only, because it is twenty times slower.

Speed: normalisation happens once per catalog; both signals are scored for all candidates with
`process.cdist` (vectorised, all cores), and only a shortlist per query is merged and ranked
(research/stack.md: 1,000 x 100,000 SKUs take seconds this way, minutes with `extract` + WRatio).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

_NOT_ALNUM = re.compile(r"[^0-9A-Z]+")
#: How many candidates per signal go to the final ranking.
SHORTLIST = 20
#: Weight of the title signal against the SKU signal when both are present.
TITLE_WEIGHT = 0.9


def normalise_code(text: str) -> str:
    """Codes compare on letters and digits only: 'skf 6204-2rs' and 'SKF62042RS' are the same."""
    return _NOT_ALNUM.sub("", text.upper())


def normalise_words(text: str) -> str:
    """Lower-case words in alphabetical order: 'Ties, Cable 200mm' and 'cable ties 200mm' agree."""
    return " ".join(sorted(re.findall(r"\w+", text.lower())))


@dataclass(frozen=True)
class Candidate:
    """An M3 item that an Amazon SKU could stand for."""

    item_number: str
    name: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    item_number: str
    name: str
    #: 0-100; the better of the SKU and (weighted) title similarity
    score: float
    #: what matched best: "item number", "alias" or "name"
    matched_on: str
    matched_text: str

    def describe(self) -> str:
        return (
            f"{self.item_number} ({self.name}): {self.score:.0f} % on {self.matched_on} {self.matched_text!r}"
        )


class SkuMatcher:
    """Suggestions against one catalog of M3 items; build once, ask many times."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)
        codes: list[tuple[str, int, str, str]] = []  # (normalised, candidate index, kind, original)
        for index, candidate in enumerate(self.candidates):
            codes.append((normalise_code(candidate.item_number), index, "item number", candidate.item_number))
            for alias in candidate.aliases:
                codes.append((normalise_code(alias), index, "alias", alias))
        self._codes = [c for c in codes if c[0]]
        self._code_texts = [c[0] for c in self._codes]
        self._names = [normalise_words(c.name) for c in self.candidates]

    def __len__(self) -> int:
        return len(self.candidates)

    def suggest(self, sku: str, title: str | None = None, limit: int = 3) -> list[Suggestion]:
        return self.suggest_many([(sku, title)], limit)[0]

    def suggest_many(
        self, queries: Sequence[tuple[str, str | None]], limit: int = 3
    ) -> list[list[Suggestion]]:
        """Top `limit` suggestions for each (sku, title), best first."""
        if not queries or not self.candidates:
            return [[] for _ in queries]
        code_scores = (
            process.cdist(
                [normalise_code(sku) for sku, _ in queries],
                self._code_texts,
                scorer=fuzz.ratio,
                workers=-1,
                dtype=np.float32,
            )
            if self._code_texts
            else np.zeros((len(queries), 0), dtype=np.float32)
        )
        titled = [i for i, (_, title) in enumerate(queries) if title]
        name_scores = (
            process.cdist(
                [normalise_words(queries[i][1] or "") for i in titled],
                self._names,
                scorer=fuzz.ratio,
                workers=-1,
                dtype=np.float32,
            )
            if titled
            else np.zeros((0, len(self._names)), dtype=np.float32)
        )
        name_row = {query: row for row, query in enumerate(titled)}

        results: list[list[Suggestion]] = []
        for q in range(len(queries)):
            best: dict[int, Suggestion] = {}
            row = code_scores[q]
            for j in _top(row, SHORTLIST):
                _, index, kind, original = self._codes[j]
                self._keep(best, index, float(row[j]), kind, original)
            if q in name_row:
                title = normalise_words(queries[q][1] or "")
                for index in _top(name_scores[name_row[q]], SHORTLIST):
                    score = fuzz.token_set_ratio(title, self._names[index]) * TITLE_WEIGHT
                    self._keep(best, index, score, "name", self.candidates[index].name)
            ranked = sorted(best.values(), key=lambda s: (-s.score, s.item_number))
            results.append(ranked[:limit])
        return results

    def _keep(self, best: dict[int, Suggestion], index: int, score: float, kind: str, text: str) -> None:
        if score <= 0:
            return
        current = best.get(index)
        if current is None or score > current.score:
            candidate = self.candidates[index]
            best[index] = Suggestion(candidate.item_number, candidate.name, round(score, 1), kind, text)


def _top(scores: np.ndarray, n: int) -> list[int]:
    """Indices of the `n` highest scores (ties kept by full sort on the small partition)."""
    if scores.size <= n:
        return [int(i) for i in np.argsort(-scores, kind="stable")]
    part = np.argpartition(-scores, n)[:n]
    return [int(i) for i in part[np.argsort(-scores[part], kind="stable")]]
