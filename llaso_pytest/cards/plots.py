"""Plots of a difficulty profile (matplotlib, Agg), PNG and SVG, byte-stable across runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from llaso_pytest.cards.profile import ColumnProfile

__all__ = ["plot_profile", "slug"]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "column"


def plot_profile(columns: Sequence[ColumnProfile], out_dir: Path, *,
                 formats: Sequence[str] = ("png", "svg")) -> dict[str, str]:
    """One small chart per column into ``out_dir``; ``{column name: PNG file name}``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}
    with matplotlib.rc_context({"svg.hashsalt": "llaso", "font.size": 9,
                                "figure.dpi": 100}):
        for col in columns:
            fig, ax = plt.subplots(figsize=(4.2, 2.4))
            if col.kind == "categorical":
                labels = [c[0] for c in col.counts][:20]
                ax.barh(labels[::-1], [c[1] for c in col.counts][:20][::-1], color="#4878a8")
                ax.set_xlabel("items")
            elif col.histogram is not None:
                edges, counts = col.histogram
                ax.stairs(counts, edges, fill=True, color="#4878a8")
                ax.set_xlabel(col.name)
                ax.set_ylabel("items")
            ax.set_title(f"{col.name} (n={col.n})")
            fig.tight_layout()
            base = slug(col.name)
            for fmt in formats:
                meta = {"Date": None} if fmt == "svg" else {"Software": None}
                fig.savefig(out_dir / f"{base}.{fmt}", format=fmt, metadata=meta)
            plt.close(fig)
            made[col.name] = f"{base}.png"
    return made
