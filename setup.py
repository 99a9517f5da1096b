"""Build step for the one compiled helper; all metadata lives in pyproject.toml.

``llaso_pytest.metrics._wordcodes`` (C, CPython API only) tokenises and interns words for
WER. It is optional: where it cannot be compiled, the metrics use the pure-Python path
(same results, slower) and ``llaso_pytest.metrics.speech.WORD_CODES`` is ``False``.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "llaso_pytest.metrics._wordcodes",
            ["llaso_pytest/metrics/_wordcodes.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
