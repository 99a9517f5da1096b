from __future__ import annotations

import numpy  # noqa: F401  (imported once here: pytester's module snapshots must not reload it)
