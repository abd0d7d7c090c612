"""A long campaign's saved progress, so that it can stop and resume (`bpfjit fuzz --state`).

`DIR/campaign.json` holds the settings the campaign started with (engines, mode, seed,
jobs, examples, seconds); a campaign started again in DIR must have the same ones.
Each job writes `DIR/job-<i>.json` after every round of programs (atomically: a
temporary file, then a rename): the round to run next and its totals so far (programs,
mismatches, crashes, saved failures, the kernel's refusals, coverage).  Rounds are
seeded from the campaign's seed and their number, so a resumed job generates the
programs it had not reached yet, and an interrupted one loses at most a round.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from ..errors import BpfError

__all__ = ["start", "load_job", "save_job", "done_programs"]


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(temporary, path)


def start(directory: Path, settings: dict) -> None:
    """Begin, or check that `directory` holds a campaign with the same `settings`."""
    if directory.exists() and not directory.is_dir():
        raise BpfError(f"cannot keep a campaign's progress in {directory}: it is not a "
                       f"directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BpfError(f"cannot keep a campaign's progress in {directory}: "
                       f"{exc.strerror or exc}") from None
    path = directory / "campaign.json"
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BpfError(f"{path} cannot be read ({exc}); remove {directory} to start "
                           f"afresh") from None
        if saved != settings:
            differ = ", ".join(f"{key} {saved.get(key)!r} (now {value!r})"
                               for key, value in settings.items() if saved.get(key) != value)
            raise BpfError(f"{directory} holds a campaign with other settings: {differ}; "
                           f"use the same options to resume it, or another --state")
        return
    try:
        _write(path, settings)
    except OSError as exc:
        raise BpfError(f"cannot keep a campaign's progress in {directory}: "
                       f"{exc.strerror or exc}") from None


def save_job(directory: Path, index: int, next_round: int, stats) -> None:
    """Record job `index`'s progress: the next round, and its CampaignStats so far."""
    _write(directory / f"job-{index}.json", {
        "next_round": next_round, "programs": stats.programs,
        "mismatches": stats.mismatches, "crashes": stats.crashes, "saved": stats.saved,
        "refused": stats.refused,
        "coverage": [[list(cell), count] for cell, count in stats.coverage.items()]})


def load_job(directory: Path, index: int, stats) -> int:
    """Fill `stats` with job `index`'s saved totals; the round it goes on with (0 when
    it has none)."""
    path = directory / f"job-{index}.json"
    if not path.exists():
        return 0
    try:
        data = json.loads(path.read_text())
        stats.programs = int(data["programs"])
        stats.mismatches = int(data["mismatches"])
        stats.crashes = int(data["crashes"])
        stats.saved = [str(p) for p in data["saved"]]
        stats.refused = {str(k): int(v) for k, v in data["refused"].items()}
        stats.coverage = Counter({tuple(cell): int(count) for cell, count in data["coverage"]})
        return int(data["next_round"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BpfError(f"{path} cannot be read ({exc}); remove it to run that job "
                       f"again from its start") from None


def done_programs(directory: Path, jobs: int) -> int:
    """Programs the campaign in `directory` has run so far, over all its jobs."""
    total = 0
    for index in range(jobs):
        path = directory / f"job-{index}.json"
        if path.exists():
            try:
                total += int(json.loads(path.read_text())["programs"])
            except (OSError, ValueError, KeyError, TypeError):
                pass
    return total
