"""Compare a run record with a baseline: verdicts as typed data, and the gate.

* :mod:`.core` - orchestration: read both records, pair items, run the paired tests in one
  batch, adjust p-values per family, decide verdicts;
* :mod:`.types` - :class:`MetricDiff`, :class:`Comparison` and their parts;
* :mod:`.tolerances` - ``wer:+0.5pp`` style tolerances;
* :mod:`.gate` - pass/fail and exit codes for CI.

The statistics live in :mod:`llaso_pytest.stats` and :mod:`llaso_pytest.multiplicity`;
provenance differences in :mod:`llaso_pytest.provenance_diff`; rendering in
:mod:`llaso_pytest.report`. Nothing here imports pytest, and importing the package imports
no NumPy (the plugin reads tolerances at start-up).
"""

from llaso_pytest.compare.core import (
    DEFAULT_CONFIDENCE,
    DEFAULT_CORRECTION,
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    check_record,
    compare_files,
    compare_records,
    family_of,
    load_record,
)
from llaso_pytest.compare.gate import EXIT_CODES, Gate
from llaso_pytest.compare.tolerances import Tolerance, find_tolerance, parse_tolerances
from llaso_pytest.compare.types import (
    METHODS,
    VERDICTS,
    Comparison,
    Flips,
    ItemChange,
    ItemView,
    MetricDiff,
    Pairing,
    Problem,
    RunInfo,
    SideValues,
    SignatureDiff,
    TestOutcome,
    ToleranceUse,
)
from llaso_pytest.multiplicity import CORRECTIONS
from llaso_pytest.provenance_diff import ProvenanceDiff, diff_provenance

__all__ = [
    "CORRECTIONS",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_CORRECTION",
    "DEFAULT_N_BOOT",
    "DEFAULT_SEED",
    "EXIT_CODES",
    "METHODS",
    "VERDICTS",
    "Comparison",
    "Flips",
    "Gate",
    "ItemChange",
    "ItemView",
    "MetricDiff",
    "Pairing",
    "Problem",
    "ProvenanceDiff",
    "RunInfo",
    "SideValues",
    "SignatureDiff",
    "TestOutcome",
    "Tolerance",
    "ToleranceUse",
    "check_record",
    "compare_files",
    "compare_records",
    "diff_provenance",
    "family_of",
    "find_tolerance",
    "load_record",
    "parse_tolerances",
]
