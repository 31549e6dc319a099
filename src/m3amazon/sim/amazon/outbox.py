"""Notifications waiting for delivery, and the delivery quirks the product must survive.

State changes put notification bodies here; the app delivers them to the publisher (SQS) after
each request, each tick and each control-plane call. Two quirks are configurable (POST
/_sim/notifications/options): a share of notifications is delivered twice (`duplicate_share`: the
same body, NotificationId included, sent again after the rest of the batch), and a share is
delivered late (`reorder_share`: held back and sent after the next batch, so it arrives after
notifications of later changes). Both draws come from one seeded generator.

Guarded by the account's lock (see state.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Outbox:
    duplicate_share: float = 0.0
    reorder_share: float = 0.0
    seed: int = 0
    pending: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    duplicates_sent: int = 0
    reordered: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def configure(self, duplicate_share: float, reorder_share: float, seed: int | None = None) -> None:
        for share in (duplicate_share, reorder_share):
            if not 0 <= share <= 1:
                raise ValueError("shares are between 0 and 1")
        self.duplicate_share, self.reorder_share = duplicate_share, reorder_share
        if seed is not None:
            self._rng.seed(seed)

    def put(self, body: str) -> None:
        self.pending.append(body)

    def take(self, *, everything: bool = False) -> list[str]:
        """The bodies to send now, in order; with `everything`, nothing is held back."""
        batch, self.pending = self.pending, []
        late, self.held = self.held, []
        out = []
        for body in batch:
            if not everything and self.reorder_share and self._rng.random() < self.reorder_share:
                self.held.append(body)
                self.reordered += 1
            else:
                out.append(body)
        out += late  # after this batch: behind notifications of changes that happened later
        duplicates = [b for b in out if self.duplicate_share and self._rng.random() < self.duplicate_share]
        self.duplicates_sent += len(duplicates)
        return out + duplicates
