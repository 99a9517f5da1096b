"""Is this run inside a container, which runtime, which image: from the places runtimes expose.

Evidence read, each documented by its runtime (nothing is inferred from host names or paths
that merely look like one):

- ``/.dockerenv``: created by Docker in every container;
- ``/run/.containerenv``: created by Podman (and CRI-O/Buildah); Podman fills it with
  ``engine``, ``name``, ``image`` and ``imageid`` lines (``key="value"``);
- the ``container`` environment variable: the systemd container interface (set by Podman,
  systemd-nspawn, LXC to the manager's name);
- ``/proc/self/cgroup``: cgroup-v1 paths ``/docker/<id>``, ``/kubepods``, ``/lxc/``,
  ``libpod-<id>``;
- ``KUBERNETES_SERVICE_HOST``: set by Kubernetes in every pod.

No runtime tells a container its image digest (Docker none at all), so the digest is recorded
only when Podman's ``.containerenv`` names the image id, or when the image declares itself
with ``LLASO_CONTAINER_IMAGE`` / ``LLASO_CONTAINER_DIGEST`` (see docs/tracking.md); each
value says where it came from. Outside a container :func:`container_info` returns ``None``:
absent, never guessed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DIGEST_ENV", "IMAGE_ENV", "container_info", "parse_containerenv"]

IMAGE_ENV = "LLASO_CONTAINER_IMAGE"
DIGEST_ENV = "LLASO_CONTAINER_DIGEST"

# cgroup-v1 path fragments -> runtime, in the order checked.
_CGROUP_RUNTIMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/kubepods"), "kubernetes"),
    (re.compile(r"libpod-[0-9a-f]{12,}"), "podman"),
    (re.compile(r"/docker[/-][0-9a-f]{12,}"), "docker"),
    (re.compile(r"/lxc/"), "lxc"),
    (re.compile(r"cri-containerd-[0-9a-f]{12,}"), "containerd"),
)
_KV = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"?(.*?)"?\s*$')


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def parse_containerenv(text: str) -> dict[str, str]:
    """Podman's ``/run/.containerenv`` (``key="value"`` lines) as a dict; empty stays empty."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _KV.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def container_info(*, root: str | os.PathLike[str] = "/",
                   environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The container this process runs in, or ``None`` when no runtime left its mark.

    ``root`` is the file-system root to read (a test passes a folder laid out as one).
    """
    env = os.environ if environ is None else environ
    base = Path(root)
    evidence: list[str] = []
    info: dict[str, Any] = {}
    if (base / ".dockerenv").exists():
        evidence.append("/.dockerenv")
        info["runtime"] = "docker"
    containerenv = _read(base / "run" / ".containerenv")
    if containerenv is not None:
        evidence.append("/run/.containerenv")
        fields = parse_containerenv(containerenv)
        engine = fields.get("engine")
        info["runtime"] = engine.split("-", 1)[0] if engine else "podman"
        if engine:
            info["engine"] = engine
        if fields.get("image"):
            info["image"] = fields["image"]
            info["image_source"] = "/run/.containerenv"
        if fields.get("imageid"):
            info["image_id"] = fields["imageid"]
    if env.get("container"):
        evidence.append("$container")
        info.setdefault("runtime", env["container"])
    cgroup = _read(base / "proc" / "self" / "cgroup") or ""
    for pattern, runtime in _CGROUP_RUNTIMES:
        if pattern.search(cgroup):
            evidence.append("/proc/self/cgroup")
            if runtime == "kubernetes":
                info["orchestrator"] = "kubernetes"
            else:
                info.setdefault("runtime", runtime)
            break
    if env.get("KUBERNETES_SERVICE_HOST"):
        evidence.append("$KUBERNETES_SERVICE_HOST")
        info["orchestrator"] = "kubernetes"
    if not evidence:
        return None
    if env.get(IMAGE_ENV):
        info["image"] = env[IMAGE_ENV]
        info["image_source"] = f"${IMAGE_ENV}"
    if env.get(DIGEST_ENV):
        info["image_digest"] = env[DIGEST_ENV]
        info["image_digest_source"] = f"${DIGEST_ENV}"
    info["detected_by"] = evidence
    return info
