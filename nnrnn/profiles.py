"""Run profiles and device selection shared by every chapter.

Three profiles exist for every notebook:

* ``smoke``: CI, seconds per notebook; exercises every code path on tiny sizes.
* ``demo``: the default; a laptop CPU, minutes per notebook; a reduced version of the paper's
  experiment that each chapter states plainly.
* ``paper``: the paper's exact settings; meant for a GPU (or a Dask cluster of them).

Each chapter module keeps its own per-profile settings (a frozen dataclass per profile); this
module holds what they share.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["Profile", "PROFILES", "check_profile", "resolve_device", "cell_timeout", "generator"]

Profile = Literal["smoke", "demo", "paper"]
PROFILES: tuple[str, ...] = ("smoke", "demo", "paper")
_DEVICES = ("auto", "cpu", "cuda")

#: per-cell execution timeout (seconds) that papermill enforces for each profile.
_CELL_TIMEOUT = {"smoke": 300, "demo": 1800, "paper": 48 * 3600}


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is known, else raise a ValueError naming the allowed ones.

    Examples:
        >>> check_profile("demo")
        'demo'
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    return profile


def resolve_device(device: str = "auto") -> torch.device:
    """Resolve ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if not isinstance(device, str) or not (device in _DEVICES or device.startswith("cuda:")):
        raise ValueError(f"device must be one of {list(_DEVICES)} or 'cuda:N', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available; use 'cpu' or 'auto'")
    return torch.device(device)


def cell_timeout(profile: str) -> int:
    """Per-cell timeout in seconds used when papermill executes a notebook on ``profile``."""
    return _CELL_TIMEOUT[check_profile(profile)]


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed`` (the global RNG is never touched).

    Examples:
        >>> a, b = generator(3), generator(3)
        >>> bool(torch.equal(torch.rand(2, generator=a), torch.rand(2, generator=b)))
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return torch.Generator(device=device).manual_seed(seed)
