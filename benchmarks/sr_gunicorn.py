"""gunicorn configuration for ``bench_self_report.py``'s diagnostics (off by default).

- ``SR_PROFILE=1`` (``--profile``): each worker profiles itself with cProfile from fork to
  exit and writes ``profile-<pid>.pstats`` into its working directory (the benchmark's
  instance folder); read with ``python -m pstats``.
"""

from __future__ import annotations

import cProfile
import os
from typing import Any

_profiles: dict[int, cProfile.Profile] = {}


def post_fork(_server: Any, _worker: Any) -> None:
    if os.environ.get("SR_PROFILE") == "1":
        profile = cProfile.Profile()
        _profiles[os.getpid()] = profile
        profile.enable()


def worker_exit(_server: Any, _worker: Any) -> None:
    profile = _profiles.pop(os.getpid(), None)
    if profile is not None:
        profile.disable()
        profile.dump_stats(f"profile-{os.getpid()}.pstats")
