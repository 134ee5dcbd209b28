"""Tiered disk/optical/tape HSM backup scheduler (issue 8).

Public surface: `Hsm` (the store: open, put, read, migrate, apply a policy, recall, verify),
`parse_policy` (20/80, 20/80+30/70, age:DAYS), `VirtualClock`, the device models, `simulate`
(and `run_simulation` from plain parameters), the
backup jobs, scheduler and restore drills, tape reclamation (`reclaim`), the HSM as a file store for
services (`backup_hsm.files.HsmFiles`, govnet.filestore's contract; not imported here, as
`python -m backup_hsm.files` runs it) and the off-site copy's plan (`plan_offsite`; the
transfer itself is `backup_hsm.transfer`).
"""

from backup_hsm.backup import BackupStore, Job, Scheduler, Window
from backup_hsm.clock import VirtualClock
from backup_hsm.devices import DISK, OPTICAL, TAPE, DiskArray, Library, OpticalLibrary, TapeLibrary
from backup_hsm.drills import DrillResult, run_drills
from backup_hsm.errors import HsmError, HsmInputError, IntegrityError, TierFullError
from backup_hsm.offsite import TransferPlan, plan_offsite
from backup_hsm.placement import AgeThreshold, HotCold, Policy, parse_policy
from backup_hsm.reclaim import ReclaimResult, candidates, reclaim
from backup_hsm.report import format_report, run_simulation
from backup_hsm.sim import SimConfig, simulate
from backup_hsm.store import Hsm

__all__ = [
    "DISK",
    "OPTICAL",
    "TAPE",
    "AgeThreshold",
    "BackupStore",
    "DiskArray",
    "DrillResult",
    "HotCold",
    "Hsm",
    "HsmError",
    "HsmInputError",
    "IntegrityError",
    "Job",
    "Library",
    "OpticalLibrary",
    "Policy",
    "ReclaimResult",
    "Scheduler",
    "SimConfig",
    "TapeLibrary",
    "TierFullError",
    "TransferPlan",
    "VirtualClock",
    "Window",
    "candidates",
    "format_report",
    "parse_policy",
    "plan_offsite",
    "reclaim",
    "run_drills",
    "run_simulation",
    "simulate",
]
