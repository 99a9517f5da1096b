"""Accelerator discovery without paying for heavy imports unless a GPU test asks.

``cuda_available()`` answers the core ``gpu`` marker: is a CUDA device usable by *any* of
the runtimes llaso-pytest drives (torch, CTranslate2)? Asking one runtime only gets it
wrong both ways: a CPU-only torch would skip the Whisper GPU tests on a GPU machine, and a
CUDA torch would run them where CTranslate2 is a CPU-only build. Runtime-specific tests add
their own check on top (the speech sub-plugin skips its GPU tests unless CTranslate2 itself
sees a device), so the answer here only has to say whether skipping everything is right.

Nothing is imported at module import; the runtimes are imported on the first call, which
the plugin makes only when a ``gpu``-marked test is set up.
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["ctranslate2_cuda_available", "cuda_available", "torch_cuda_available"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a stub in sys.modules without __spec__
        import sys

        return module in sys.modules


def _hidden() -> bool:
    return os.environ.get("CUDA_VISIBLE_DEVICES", None) == ""


def torch_cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA device."""
    if _hidden() or not _installed("torch"):
        return False
    import torch

    try:
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken CUDA install means "no usable GPU"
        return False


def ctranslate2_cuda_available() -> bool:
    """Whether CTranslate2 (faster-whisper's runtime) is installed and sees a CUDA device."""
    if _hidden() or not _installed("ctranslate2"):
        return False
    import ctranslate2

    try:
        return int(ctranslate2.get_cuda_device_count()) > 0
    except Exception:  # noqa: BLE001 - a CPU-only build raises instead of returning 0
        return False


def cuda_available() -> bool:
    """True when a CUDA device is usable by torch or by CTranslate2 in this process.

    ``CUDA_VISIBLE_DEVICES=""`` hides every device. CTranslate2 is asked first (a cheaper
    import than torch); torch only when CTranslate2 sees nothing.
    """
    if _hidden():
        return False
    return ctranslate2_cuda_available() or torch_cuda_available()
