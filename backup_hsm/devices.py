"""Device models of the three tiers: capacities, drives, throughput and latencies (time is modelled).

Figures, and where they come from:
- Tape: LTO-9 native 18 TB and 400 MB/s, LTO-8 native 12 TB and 360 MB/s (LTO Program generation
  specs). Load-and-thread ~17 s, average locate 45-70 s (we use 57.5 s, the middle), robot move
  10-15 s (we use 12 s), as given for LTO-8/9 class libraries in issue 8 and drive datasheets of that
  class. Locate time is modelled as linear in the distance along the tape (2 x average for full length);
  real serpentine locate is not linear, but the average matches.
- Optical: 100 GB BD-R XL discs, robot exchange + mount 8-15 s (we use 10 s exchange + 8 s mount/spin-up),
  0.3 s seek, 18 MB/s (4x BD) read.
- Disk array: 8 ms access, 1 GB/s aggregate.
- Media cost per TB (assumed list prices, for the cost figure only): disk 40, optical BD-R XL 150
  (about 15 per 100 GB disc), LTO-9 7 (about 125 per 18 TB cartridge).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DISK, OPTICAL, TAPE = 0, 1, 2
TIER_NAMES = ("disk", "optical", "tape")
TB = 10**12
GB = 10**9
MB = 10**6


@dataclass(frozen=True)
class DiskArray:
    """The online disk array."""

    capacity_bytes: int = 50 * TB
    throughput_bps: float = 1000.0 * MB
    access_s: float = 0.008
    cost_per_tb: float = 40.0

    def read_s(self, size: int) -> float:
        """Modelled time to read `size` bytes."""
        return self.access_s + size / self.throughput_bps


@dataclass(frozen=True)
class OpticalLibrary:
    """A near-line optical jukebox of BD-R XL discs."""

    discs: int = 1000
    disc_bytes: int = 100 * GB
    drives: int = 4
    exchange_s: float = 10.0
    mount_s: float = 8.0
    seek_s: float = 0.3
    throughput_bps: float = 18.0 * MB
    cost_per_tb: float = 150.0

    @property
    def capacity_bytes(self) -> int:
        """Total capacity of all discs."""
        return self.discs * self.disc_bytes


@dataclass(frozen=True)
class TapeLibrary:
    """An offline LTO tape library (LTO-9 by default; see LTO8)."""

    cartridges: int = 200
    cartridge_bytes: int = 18 * TB
    drives: int = 4
    robot_move_s: float = 12.0
    load_s: float = 17.0
    unload_s: float = 17.0
    locate_avg_s: float = 57.5
    throughput_bps: float = 400.0 * MB
    cost_per_tb: float = 7.0

    @property
    def capacity_bytes(self) -> int:
        """Total capacity of all cartridges."""
        return self.cartridges * self.cartridge_bytes

    def locate_s(self, from_byte: int, to_byte: int) -> float:
        """Modelled locate time between two positions on one cartridge."""
        return 2.0 * self.locate_avg_s * abs(to_byte - from_byte) / self.cartridge_bytes


LTO8 = TapeLibrary(cartridge_bytes=12 * TB, throughput_bps=360.0 * MB)


@dataclass(frozen=True)
class Library:
    """The three tiers together: the reference configuration of the information centre."""

    disk: DiskArray = field(default_factory=DiskArray)
    optical: OpticalLibrary = field(default_factory=OpticalLibrary)
    tape: TapeLibrary = field(default_factory=TapeLibrary)

    def capacity(self, tier: int) -> int:
        """Capacity of a tier in bytes."""
        return (self.disk.capacity_bytes, self.optical.capacity_bytes, self.tape.capacity_bytes)[tier]

    def cost_per_tb(self, tier: int) -> float:
        """Media cost per TB of a tier."""
        return (self.disk.cost_per_tb, self.optical.cost_per_tb, self.tape.cost_per_tb)[tier]


@dataclass(frozen=True)
class Request:
    """One recall request: when it arrived, which medium, where on it, how big."""

    arrival: float
    medium: int
    offset: int
    size: int


class _Drives:
    """Drives of a robot library: what each holds, where its head is, when it is free."""

    def __init__(self, count: int) -> None:
        self.free_at = [0.0] * count
        self.medium: list[int | None] = [None] * count
        self.pos = [0] * count
        self.mounts = 0

    def pick(self, medium: int, start: float) -> int:
        """The drive that serves `medium`: one that holds it, else the earliest free one."""
        for d, held in enumerate(self.medium):
            if held == medium:
                return d
        return min(range(len(self.free_at)), key=lambda d: max(self.free_at[d], start))


class TapeDrives(_Drives):
    """Serves recall batches on a tape library in tape order; counts mounts."""

    def __init__(self, lib: TapeLibrary) -> None:
        super().__init__(lib.drives)
        self.lib = lib

    def serve(self, batch: list[Request], release: float) -> list[float]:
        """Completion time of each request of a batch released at `release` (same order as given)."""
        lib = self.lib
        done = [0.0] * len(batch)
        order = sorted(range(len(batch)), key=lambda i: (batch[i].medium, batch[i].offset))
        k = 0
        while k < len(order):
            cart = batch[order[k]].medium
            group = []
            while k < len(order) and batch[order[k]].medium == cart:
                group.append(order[k])
                k += 1
            d = self.pick(cart, release)
            t = max(self.free_at[d], release)
            if self.medium[d] != cart:
                if self.medium[d] is not None:
                    t += lib.unload_s + lib.robot_move_s
                t += lib.robot_move_s + lib.load_s
                self.medium[d], self.pos[d] = cart, 0
                self.mounts += 1
            for i in group:
                r = batch[i]
                t += lib.locate_s(self.pos[d], r.offset) + r.size / lib.throughput_bps
                self.pos[d] = r.offset + r.size
                done[i] = t
            self.free_at[d] = t
        return done


class OpticalDrives(_Drives):
    """Serves recall batches on an optical jukebox, disc by disc."""

    def __init__(self, lib: OpticalLibrary) -> None:
        super().__init__(lib.drives)
        self.lib = lib

    def serve(self, batch: list[Request], release: float) -> list[float]:
        """Completion time of each request of a batch released at `release` (same order as given)."""
        lib = self.lib
        done = [0.0] * len(batch)
        for i in sorted(range(len(batch)), key=lambda i: (batch[i].medium, batch[i].offset)):
            r = batch[i]
            d = self.pick(r.medium, release)
            t = max(self.free_at[d], release)
            if self.medium[d] != r.medium:
                t += lib.exchange_s + lib.mount_s
                self.medium[d] = r.medium
                self.mounts += 1
            t += lib.seek_s + r.size / lib.throughput_bps
            done[i] = self.free_at[d] = t
        return done
