"""The production sample source: random pages of FineWeb-Edu (score 2) via the rows API.

Like the reference validator, a round's samples are whole dataset rows taken from a few random
"pages" (runs of up to 100 consecutive rows). Unlike it, the pages come from the seed, so every
validator fetches the same rows, and fetched pages are cached in SQLite so a restart or a
repeated seed costs no request.

Page plan for page k of a seed: every valid page start in every (config, split) is equally
likely: a number r = hash(seed, "fineweb-page", k) mod (total number of valid starts) is mapped
to a config by cumulative counts, and the remainder is the offset. (The reference picked the
config uniformly, which over-samples small dumps.) Configs are sorted by name, and the listing
is cached for `listing_ttl_s`, so validators agree as long as they see the same listing.

A page that fails for good (the API returns 500 for some pages persistently) is skipped and the
next page index is used; all validators skip the same pages if the failure is on the server.
More than `max_page_failures` failed pages in one call raise FetchError.

FineWeb rows are not split train/held-out: the dataset is public and vast; freshness comes from
the random page choice, as in the reference. Sample id: `<config>:<split>:<row index>`; the text
is the row's text with surrounding whitespace stripped (as corpus chunks are), rows left empty
are dropped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from node.data.cache import SampleCache
from node.data.rows_api import MAX_ROWS_PER_REQUEST, FetchError, RowsApiClient, SplitInfo
from node.data.sample import Sample
from node.data.seeding import uniform_index

LISTING_TTL_S = 24 * 3600.0


@dataclass(frozen=True)
class PageRef:
    """Rows [offset, offset + length) of one (config, split)."""

    config: str
    split: str
    offset: int
    length: int

    def key(self, dataset: str) -> str:
        return f"{dataset}/{self.config}/{self.split}/{self.offset}+{self.length}"


def plan_page(splits: Sequence[SplitInfo], seed: int, k: int, length: int) -> PageRef:
    """Page k of `seed`, uniform over all valid page starts of all listed splits."""
    starts = [max(0, s.num_rows - length) + 1 for s in splits]
    r = uniform_index(seed, sum(starts), "fineweb-page", k)
    for info, n in zip(splits, starts, strict=True):
        if r < n:
            return PageRef(info.config, info.split, r, min(length, info.num_rows))
        r -= n
    raise AssertionError("unreachable: r < sum(starts)")


class FineWebSource:
    """SampleSource over the rows API, with a SQLite page cache."""

    def __init__(
        self,
        client: RowsApiClient | None = None,
        cache: SampleCache | None = None,
        *,
        rows_per_page: int = MAX_ROWS_PER_REQUEST,
        max_page_failures: int = 3,
        listing_ttl_s: float = LISTING_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < rows_per_page <= MAX_ROWS_PER_REQUEST:
            raise ValueError(f"rows_per_page must be in 1..{MAX_ROWS_PER_REQUEST}")
        self.client = client or RowsApiClient()
        self.cache = cache
        self.rows_per_page = rows_per_page
        self.max_page_failures = max_page_failures
        self.listing_ttl_s = listing_ttl_s
        self._clock = clock
        self._listing: tuple[float, list[SplitInfo]] | None = None
        self.name = f"fineweb:{self.client.dataset}"

    def listing(self) -> list[SplitInfo]:
        """Configs and sizes: from memory or the cache if fresh enough, else from `/size`."""
        now = self._clock()
        if self._listing is not None and now - self._listing[0] < self.listing_ttl_s:
            return self._listing[1]
        meta_key = f"listing:{self.client.dataset}"
        hit = self.cache.get_meta(meta_key) if self.cache is not None else None
        if hit is not None and now - hit[1] < self.listing_ttl_s:
            self._listing = (hit[1], [SplitInfo(*entry) for entry in json.loads(hit[0])])
            return self._listing[1]
        splits = self.client.splits()
        if self.cache is not None:
            payload = json.dumps([[s.config, s.split, s.num_rows] for s in splits])
            self.cache.set_meta(meta_key, payload, now)
        self._listing = (now, splits)
        return splits

    def page(self, ref: PageRef) -> list[Sample]:
        """One page's samples, from the cache or fetched (and then cached)."""
        key = ref.key(self.client.dataset)
        if self.cache is not None:
            hit = self.cache.get_page(key)
            if hit is not None:
                return hit
        rows = self.client.rows(ref.config, ref.split, ref.offset, ref.length)
        samples = [
            Sample(id=f"{ref.config}:{ref.split}:{row.index}", text=row.text.strip(), source=self.name)
            for row in rows
            if row.text.strip()
        ]
        if self.cache is not None:
            self.cache.put_page(key, self.name, samples, self._clock())
        return samples

    def samples(self, seed: int, count: int) -> list[Sample]:
        """The first `count` usable rows of pages 0, 1, 2, ... of `seed`."""
        if count <= 0:
            return []
        splits = self.listing()
        out: list[Sample] = []
        seen: set[str] = set()
        failures = 0
        max_pages = 2 * math.ceil(count / self.rows_per_page) + self.max_page_failures + 2
        for k in range(max_pages):
            ref = plan_page(splits, seed, k, self.rows_per_page)
            try:
                page = self.page(ref)
            except FetchError as exc:
                failures += 1
                if failures > self.max_page_failures:
                    raise FetchError(f"{failures} pages failed for seed {seed}; last: {exc}") from exc
                continue
            for sample in page:
                if sample.id not in seen:
                    seen.add(sample.id)
                    out.append(sample)
            if len(out) >= count:
                return out[:count]
        raise FetchError(f"only {len(out)} of {count} samples after {max_pages} pages for seed {seed}")
