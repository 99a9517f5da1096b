"""Eval cases from the dataset formats teams have: ``cases.load(path)``.

``cases.load("data.jsonl")`` (or CSV, Parquet, a Hugging Face ``save_to_disk`` folder, a
Kaldi data directory, a NeMo manifest) returns :class:`Cases`: a sequence of :class:`Case`,
each with a stable ``case.id`` and its fields (``case["answers"]``), and the content hash
that the pytest plugin records in the run record's provenance. Pass it to
``pytest.mark.parametrize`` for one test per case (the test ids are the case ids, so
``-k qa-001`` selects one), and record each case's result with the ``record_case`` fixture.
A format of your own is one :func:`register_reader` call. See docs/cases.md.
"""

from __future__ import annotations

from llaso_pytest.cases.core import (
    Case,
    Cases,
    CasesError,
    Reader,
    Row,
    Table,
    load,
    readers,
    register_reader,
)

__all__ = ["Case", "Cases", "CasesError", "Reader", "Row", "Table", "load", "readers",
           "register_reader"]
