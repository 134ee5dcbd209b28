"""A virtual clock passed to the store, the scheduler and the simulator, so long horizons run fast."""

from __future__ import annotations

import time

DAY_S = 86_400.0


class VirtualClock:
    """Modelled time in seconds since the epoch of a run; only advances when told to."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current modelled time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backward (advance by {seconds})")
        self._now += seconds
        return self._now

    def set(self, when: float) -> float:
        """Jump to `when` if it is later than now (events in the past do not rewind)."""
        self._now = max(self._now, float(when))
        return self._now

    def day(self) -> int:
        """The day number of the current time (day 0 starts at t = 0)."""
        return int(self._now // DAY_S)


class WallClock(VirtualClock):
    """Real time, for a store that serves a live service (heat decays with the wall clock)."""

    def __init__(self) -> None:
        super().__init__(0.0)

    def now(self) -> float:
        """Seconds since the Unix epoch."""
        return time.time()

    def advance(self, seconds: float) -> float:
        """Wall time cannot be moved; returns now."""
        return self.now()

    def set(self, when: float) -> float:
        """Wall time cannot be moved; returns now."""
        return self.now()

    def day(self) -> int:
        """The day number of the current time."""
        return int(self.now() // DAY_S)
