"""Accelerator discovery without paying for heavy imports unless a GPU test asks."""

from __future__ import annotations

import importlib.util
import os

__all__ = ["cuda_available"]


def cuda_available() -> bool:
    """True when a CUDA device is visible to this process.

    Asks torch when it is installed, else CTranslate2 (the faster-whisper engine), else
    ``nvidia-smi``-free heuristics say no. ``CUDA_VISIBLE_DEVICES=""`` hides every device.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    if importlib.util.find_spec("torch") is not None:
        import torch

        return bool(torch.cuda.is_available())
    if importlib.util.find_spec("ctranslate2") is not None:
        import ctranslate2

        try:
            return int(ctranslate2.get_cuda_device_count()) > 0
        except Exception:  # noqa: BLE001 - a CPU-only build raises instead of returning 0
            return False
    return False
