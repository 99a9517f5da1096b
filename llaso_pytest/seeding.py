"""Seeding and determinism switches.

Before each test the plugin seeds Python's ``random``, NumPy's legacy global generator and
torch (CPU and CUDA) with a seed derived from the session seed and the test's node id, so a
test's randomness does not depend on which tests ran before it (or on which xdist worker).
NumPy and torch are touched only when already imported: seeding never pays their import cost.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

__all__ = ["DEFAULT_SEED", "enable_determinism", "seed_everything", "test_seed"]

DEFAULT_SEED = 1234


def test_seed(session_seed: int, nodeid: str) -> int:
    """A 32-bit seed for one test: stable across runs, orders and processes."""
    import hashlib  # lazily: its OpenSSL backend is slow to load and start-up must stay cheap

    digest = hashlib.sha256(f"{session_seed}:{nodeid}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def seed_everything(seed: int) -> list[str]:
    """Seed ``random``, NumPy and torch (when imported); return what was seeded."""
    seeded = ["random"]
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)
        seeded.append("numpy")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        seeded.append("torch")
        try:
            if torch.cuda.is_available():
                torch.cuda.manual_seed_all(seed)
                seeded.append("torch.cuda")
        except Exception:  # noqa: BLE001, S110 - a broken CUDA install: CPU seeding stands
            pass  # pragma: no cover
    return seeded


def enable_determinism() -> dict[str, Any]:
    """Turn on deterministic algorithms where available; return what was set, for the record."""
    settings: dict[str, Any] = {"enabled": True}
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    settings["CUBLAS_WORKSPACE_CONFIG"] = os.environ["CUBLAS_WORKSPACE_CONFIG"]
    os.environ.setdefault("PYTHONHASHSEED", "0")  # inherited by subprocesses
    try:
        import torch
    except ImportError:
        settings["torch"] = "not installed"
        return settings
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    settings["torch"] = {
        "use_deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
    }
    return settings
