"""GPU discovery: the core ``gpu`` skip asks every runtime; speech GPU tests ask CTranslate2."""

from __future__ import annotations

import types

import numpy  # noqa: F401  - loaded before pytester snapshots sys.modules
import pytest

from llaso_pytest import device
from llaso_pytest.speech import engines

pytest_plugins = ["pytester"]


def _fake_runtimes(monkeypatch: pytest.MonkeyPatch, *, torch_cuda: bool, ct2_devices: int) -> None:
    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(is_available=lambda: torch_cuda)  # type: ignore[attr-defined]
    ct2 = types.ModuleType("ctranslate2")
    ct2.get_cuda_device_count = lambda: ct2_devices  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "torch", torch)
    monkeypatch.setitem(__import__("sys").modules, "ctranslate2", ct2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_cpu_only_torch_does_not_hide_a_gpu_ctranslate2_can_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_runtimes(monkeypatch, torch_cuda=False, ct2_devices=1)
    assert device.cuda_available() is True
    assert engines.cuda_available() is True


def test_cuda_torch_with_cpu_only_ctranslate2(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_runtimes(monkeypatch, torch_cuda=True, ct2_devices=0)
    assert device.cuda_available() is True  # a device is visible (torch tests may run)
    assert engines.cuda_available() is False  # but the Whisper engine cannot use it


def test_cuda_visible_devices_empty_hides_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_runtimes(monkeypatch, torch_cuda=True, ct2_devices=1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert device.cuda_available() is False and engines.cuda_available() is False


def test_ctranslate2_cpu_build_that_raises_means_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_runtimes(monkeypatch, torch_cuda=False, ct2_devices=0)

    def boom() -> int:
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(__import__("sys").modules["ctranslate2"], "get_cuda_device_count", boom)
    assert device.cuda_available() is False


def _patch_probes(monkeypatch: pytest.MonkeyPatch, *, torch_cuda: bool, ct2_cuda: bool) -> None:
    """Stand-ins for the runtimes' answers (fake modules would be seeded by the plugin)."""
    monkeypatch.setattr(device, "torch_cuda_available", lambda: torch_cuda)
    monkeypatch.setattr(device, "ctranslate2_cuda_available", lambda: ct2_cuda)


_GPU_TESTS = """
import pytest

@pytest.mark.gpu
@pytest.mark.speech
def test_speech_on_gpu():
    pass

@pytest.mark.gpu
def test_other_on_gpu():
    pass
"""


def test_speech_gpu_test_skips_when_only_torch_sees_cuda(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: torch said CUDA, the test ran and failed with EngineError at model load."""
    _patch_probes(monkeypatch, torch_cuda=True, ct2_cuda=False)
    pytester.makepyfile(_GPU_TESTS)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*gpu: CTranslate2*sees no CUDA device*"])


def test_speech_gpu_test_runs_when_only_ctranslate2_sees_cuda(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a CPU-only torch made the core skip the Whisper GPU tests on a GPU machine."""
    _patch_probes(monkeypatch, torch_cuda=False, ct2_cuda=True)
    pytester.makepyfile(_GPU_TESTS)
    pytester.runpytest().assert_outcomes(passed=2)


def test_speech_gpu_fixture_user_is_covered_without_the_marker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from speech_testutil import MODELS

    _patch_probes(monkeypatch, torch_cuda=True, ct2_cuda=False)
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.gpu
        def test_whisper_cuda(llaso_speech_models):
            raise AssertionError("must be skipped before loading")
        """
    )
    pytester.runpytest(f"--llaso-speech-models-dir={MODELS}").assert_outcomes(skipped=1)


def test_plugin_start_up_imports_no_gpu_runtime(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys
        def test_x():
            assert "ctranslate2" not in sys.modules and "torch" not in sys.modules
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
