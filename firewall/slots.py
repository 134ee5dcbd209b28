"""The slot table: which firewall member carries each of the pair's hash slots (pure logic).

A flow's slot is fixed by the kernel's symmetric multipath hash; the controller only changes which
member a slot points at. So:
- a member's loss moves only its own slots (its flows), spread over the survivors;
- adding a member takes about 1/N of the slots, one at a time from the fullest member, and moves
  nothing else;
- rebalancing on measured load moves slots from the busiest member (by measured packets/s) to the
  least busy, a step proportional to the gap, with a dead band so the table does not oscillate.
Moved flows keep working because every member holds every member's connection state (conntrackd).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SLOTS = 64


@dataclass
class SlotTable:
    members: list[str]
    slots: list[str]
    _cursor: dict[str, int] = field(default_factory=dict)

    @classmethod
    def even(cls, members: Sequence[str], active: Sequence[str] | None = None, n: int = SLOTS) -> SlotTable:
        act = list(active if active is not None else members)
        if not act:
            raise ValueError("a slot table needs at least one active member")
        if n < 1:
            raise ValueError(f"slots must be >= 1, got {n}")
        unknown = [m for m in act if m not in members]
        if unknown:
            raise ValueError(f"unknown member(s): {', '.join(unknown)}")
        return cls(list(members), [act[i % len(act)] for i in range(n)])

    # views -------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(self.members, 0)
        for m in self.slots:
            out[m] += 1
        return out

    def shares(self) -> dict[str, float]:
        return {m: c / len(self.slots) for m, c in self.counts().items()}

    def active(self) -> list[str]:
        c = self.counts()
        return [m for m in self.members if c[m] > 0]

    def copy(self) -> SlotTable:
        return SlotTable(list(self.members), list(self.slots), dict(self._cursor))

    # changes (each returns the slots it moved) --------------------------------------------------
    def remove(self, member: str, survivors: Sequence[str] | None = None) -> list[int]:
        """Give `member`'s slots to the survivors, each to the one with the fewest slots."""
        self._known(member)
        counts = self.counts()
        # by default the survivors are the members in service (holding slots)
        pool = survivors if survivors is not None else [m for m in self.members if counts[m]]
        live = [m for m in pool if m != member and m in counts]
        if not live:
            raise ValueError(f"cannot take {member} out: no other member is in service")
        moved = []
        for i, m in enumerate(self.slots):
            if m == member:
                to = min(live, key=lambda x: (counts[x], self.members.index(x)))
                self.slots[i] = to
                counts[to] += 1
                counts[member] -= 1
                moved.append(i)
        return moved

    def add(self, member: str) -> list[int]:
        """Bring `member` in: it takes floor(n / active) slots, each from the fullest member."""
        self._known(member)
        counts = self.counts()
        if counts[member]:
            return []
        n_active = len([m for m in self.members if counts[m]]) + 1
        want = len(self.slots) // n_active
        moved = []
        for _ in range(want):
            donor = max(
                (m for m in self.members if m != member), key=lambda x: (counts[x], -self.members.index(x))
            )
            i = self._pick(donor)
            self.slots[i] = member
            counts[donor] -= 1
            counts[member] += 1
            moved.append(i)
        return moved

    def rebalance(self, load: Mapping[str, float], dead_band: float = 0.15, max_moves: int = 8) -> list[int]:
        """Move slots from the busiest to the least busy member when their measured loads differ by more
        than `dead_band` of the mean; `load` is any additive measure (packets/s, sessions).

        Sessions are pinned to their member, so a moved slot changes where *new* flows go: the step is
        proportional (enough slots to carry half the gap if load were spread evenly over the busy
        member's slots), at most `max_moves`, and never when one slot's share alone exceeds the gap."""
        counts = self.counts()
        act = [m for m in self.members if counts[m]]
        if len(act) < 2:
            return []
        total = sum(max(0.0, load.get(m, 0.0)) for m in act)
        if total <= 0:
            return []
        mean = total / len(act)
        busy = max(act, key=lambda m: load.get(m, 0.0))
        idle = min(act, key=lambda m: load.get(m, 0.0))
        gap = load.get(busy, 0.0) - load.get(idle, 0.0)
        if gap <= dead_band * mean or counts[busy] <= 1:
            return []
        per_slot = load.get(busy, 0.0) / counts[busy]
        if per_slot > gap:  # moving even one slot would overshoot
            return []
        k = max(1, min(max_moves, counts[busy] - 1, round(gap / 2 / per_slot)))
        moved = []
        for _ in range(k):
            i = self._pick(busy)
            self.slots[i] = idle
            moved.append(i)
        return moved

    # internals -----------------------------------------------------------------------------------
    def _known(self, member: str) -> None:
        if member not in self.members:
            raise ValueError(f"unknown member {member!r} (members: {', '.join(self.members)})")

    def _pick(self, donor: str) -> int:
        """The donor's next slot after the last one taken from it (round robin over its slots)."""
        start = self._cursor.get(donor, -1) + 1
        n = len(self.slots)
        for k in range(n):
            i = (start + k) % n
            if self.slots[i] == donor:
                self._cursor[donor] = i
                return i
        raise ValueError(f"{donor} has no slots")


def evenness(shares: Mapping[str, float]) -> float:
    """max/min share over members that carry load (1.0 is perfectly even; inf if one carries none)."""
    vals = list(shares.values())
    if not vals:
        return 1.0
    lo = min(vals)
    return float("inf") if lo <= 0 else max(vals) / lo
