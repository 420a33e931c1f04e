"""The benchmark suite itself: its timing helpers, its checks, and one tiny run of it all."""

import gc
import importlib.util
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import _timing  # noqa: E402


def _load_runner():
    """benchmarks/run.py under a name that cannot clash with another ``run`` module."""
    spec = importlib.util.spec_from_file_location("cnnlab_benchmarks_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


run = _load_runner()

TARGETS = {  # the project's targets (median ratio cnnlab / PyTorch)
    "3x3 conv forward (64-256 channels)": 1.1,
    "1x1 conv forward": 0.8,
    "conv forward+backward (dense cases)": 1.5,
    "depthwise conv forward+backward": 2.0,
    "max/avg pool forward": 0.5,
    "max/avg pool forward+backward": 1.5,
    "LeNet training step, batch 64": 1.0,
    "tiny-op call latency": 1.0,
}


@pytest.fixture
def frozen_gc():
    """What ``run.main`` does first: imported objects out of the collector's view (the
    collection before each sample then takes microseconds); undone afterwards."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def restore_threads():
    """``run.main(["--threads", ...])`` sets both libraries' threads: put them back."""
    torch_threads = torch.get_num_threads()
    blas_threads = _timing.numpy_blas()["threads"]
    yield
    torch.set_num_threads(torch_threads)
    if blas_threads:
        _timing.set_blas_threads(blas_threads)
    gc.unfreeze()


# --------------------------------------------------------------- timing helpers


def test_compare_interleaves_the_libraries(frozen_gc):
    calls = []
    timing = _timing.compare(lambda: calls.append("cnnlab"), lambda: calls.append("torch"),
                             samples=3, warmup=2, gap_s=0)
    # one sizing call each, one more warm-up round, then alternating samples
    assert calls == ["cnnlab", "torch"] * 5
    assert len(timing.cnnlab_s) == len(timing.torch_s) == 3
    assert timing.cnnlab_number == timing.torch_number == 1


def test_compare_samples_a_slow_reference_less_often(frozen_gc):
    calls = []
    timing = _timing.compare(lambda: calls.append("c"), lambda: calls.append("t"),
                             samples=3, warmup=1, gap_s=0, torch_samples=1)
    assert calls == ["c", "t", "c", "t", "c", "c"]
    assert (len(timing.cnnlab_s), len(timing.torch_s), len(timing.ratios)) == (3, 1, 1)


def test_compare_repeats_fast_calls_within_a_sample(frozen_gc):
    counts = {"c": 0, "t": 0}

    def fast():
        counts["c"] += 1

    timing = _timing.compare(fast, lambda: None, samples=2, warmup=1, gap_s=0,
                             min_sample_s=0.002)
    assert timing.cnnlab_number > 1
    assert counts["c"] == 1 + 2 * timing.cnnlab_number
    with pytest.raises(ValueError, match="compare: samples must be >= 1, got 0"):
        _timing.compare(fast, fast, samples=0)


def test_ratio_is_the_median_of_paired_ratios_not_the_ratio_of_medians():
    timing = _timing.Timing(cnnlab_s=[1.0, 4.0, 2.0], torch_s=[2.0, 2.0, 1.0])
    assert timing.ratios == [0.5, 2.0, 2.0]
    assert timing.ratio == 2.0
    assert timing.cnnlab_median_s / timing.torch_median_s == 1.0


def test_calls_per_sample():
    assert _timing.calls_per_sample(1.0, 0.02) == 1
    assert _timing.calls_per_sample(1e-5, 0.02) == 2000
    assert _timing.calls_per_sample(0.0, 0.02) == 1000


def test_peak_extra_bytes_counts_numpy_allocations_of_the_call_only():
    held = np.ones(4 * 2 ** 20, dtype=np.uint8)  # allocated before: not counted
    peak = _timing.peak_extra_bytes(lambda: np.ones(16 * 2 ** 20, dtype=np.uint8))
    assert 16 * 2 ** 20 <= peak < 17 * 2 ** 20
    assert _timing.peak_extra_bytes(lambda: held.sum()) < 2 ** 20


def test_machine_reports_cpu_blas_and_threads():
    info = _timing.machine()
    assert info["cpu"] and info["cpu_count"] >= 1
    assert info["torch_threads"] == torch.get_num_threads()
    assert info["blas"]["numpy"] == np.__version__


# ------------------------------------------------------------ checks and cases


def test_compare_results_flags_mismatches():
    rng = np.random.default_rng(0)
    want = rng.standard_normal((3, 4)).astype(np.float32)
    ok, error = run.compare_results([want * (1 + 1e-6)], [torch.from_numpy(want)])
    assert ok and error < 1e-5
    ok, error = run.compare_results([want * 1.01], [torch.from_numpy(want)])
    assert not ok and error == pytest.approx(0.01, rel=1e-3)
    assert run.compare_results([want[:2]], [want]) == (False, None)
    assert run.compare_results([want], [want, want]) == (False, None)
    ok, _ = run.compare_results([np.full(3, np.nan)], [np.zeros(3)])
    assert not ok


def test_seed_corr2d_is_the_chapter_loop():
    X = torch.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0.0, 1], [1, 0]])
    assert run.seed_corr2d(X, K).tolist() == [[4.0, 6.0], [10.0, 12.0]]
    x, k = torch.randn(7, 9), torch.randn(2, 3)
    expected = torch.nn.functional.conv2d(x[None, None], k[None, None])[0, 0]
    torch.testing.assert_close(run.seed_corr2d(x, k), expected)


def test_twin_lenets_start_from_the_same_weights():
    import cnnlab

    (c_model, _), (t_model, _) = run.twin_lenets()
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28), dtype=np.float32)
    got = c_model(cnnlab.from_numpy(x)).detach().numpy()
    want = t_model(torch.from_numpy(x)).detach().numpy()
    assert got.shape == (2, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_cases_cover_the_issue_and_every_case_has_a_group():
    names = [case.name for case in run.all_cases(with_epoch=True)]
    assert len(names) == len(set(names))
    for label, *_ in run.CONVS:
        assert f"conv {label} fwd" in names and f"conv {label} fwd+bwd" in names
    assert sum(name.startswith("pool ") for name in names) == 8
    keys = {group.key for group in run.GROUPS}
    assert all(set(case.groups) <= keys for case in run.all_cases(with_epoch=True))
    assert {g.title: g.target for g in run.GROUPS if g.target is not None} == TARGETS


def test_group_summary_marks_targets_and_ignores_failed_cases():
    results = [run.Result("a", "", ("tiny",), ratio=0.5),
               run.Result("b", "", ("tiny",), ratio=1.5),
               run.Result("c", "", ("tiny",), ratio=3.0),
               run.Result("d", "", ("tiny",), status="error"),
               run.Result("e", "", ("pool_fwd",), ratio=0.6)]
    summary = {g["key"]: g for g in run.group_summary(results)}
    assert summary["tiny"]["cases"] == ["a", "b", "c"]
    assert summary["tiny"]["median_ratio"] == 1.5 and summary["tiny"]["met"] is False
    assert summary["pool_fwd"]["met"] is False
    assert summary["conv1x1_fwd"]["median_ratio"] is None and summary["conv1x1_fwd"]["met"] is None
    assert summary["seed_loop"]["met"] is None


def test_a_case_that_raises_or_skips_does_not_stop_the_suite():
    def broken(settings):
        raise RuntimeError("not written yet")

    def skipped(settings):
        raise run.Skip("no data")

    smoke = run.MODES["smoke"]
    result = run.run_case(run.Case("broken", lambda s: "", ("tiny",), broken), smoke, 1)
    assert (result.status, result.message) == ("error", "RuntimeError: not written yet")
    result = run.run_case(run.Case("skipped", lambda s: "", ("tiny",), skipped), smoke, 1)
    assert (result.status, result.message, result.ratio) == ("skipped", "no data", None)


def test_filter_selects_cases_and_an_unknown_filter_fails(tmp_path, capsys,
                                                         restore_threads):
    code = run.main(["--smoke", "--threads", "1", "--filter", "TINY",
                     "--json", str(tmp_path / "tiny.json")])
    assert code == 0
    report = json.loads((tmp_path / "tiny.json").read_text())
    assert [case["name"] for case in report["cases"]] == ["tiny corr2d 6x8",
                                                          "tiny conv2d 1x1x6x8"]
    assert run.main(["--filter", "no such case"]) == 2
    assert "no case name contains 'no such case'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--repeat", "0"], "--repeat must be >= 1, got 0"),
    (["--threads", "0"], "--threads must be >= 1, got 0"),
    (["--quick", "--smoke"], "--quick and --smoke are exclusive"),
], ids=["repeat-0", "threads-0", "quick-and-smoke"])
def test_bad_arguments_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit):
        run.parse_arguments(argv)
    assert message in capsys.readouterr().err


# ----------------------------------------------------------------- a whole run


def test_smoke_run_prints_the_tables_and_writes_the_json(tmp_path, capsys, restore_threads):
    json_path = tmp_path / "bench.json"
    code = run.main(["--smoke", "--threads", "1", "--json", str(json_path)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "CPU: " in out and "torch.get_num_threads() = 1" in out and "threads: 1" in out

    report = json.loads(json_path.read_text())
    names = [case.name for case in run.all_cases(with_epoch=False)]
    assert [case["name"] for case in report["cases"]] == names
    assert report["machine"]["torch_threads"] == 1 and report["machine"]["blas"]["threads"] == 1
    for case in report["cases"]:
        assert case["status"] == "ok", case
        assert case["max_error"] < run.RTOL
        assert case["cnnlab_s"] > 0 and case["torch_s"] > 0 and case["peak_mib"] >= 0
        ratios = [c / t for c, t in zip(case["cnnlab_samples_s"], case["torch_samples_s"])]
        assert case["ratio"] == pytest.approx(statistics.median(ratios))
        assert case["cnnlab_s"] == pytest.approx(statistics.median(case["cnnlab_samples_s"]))
        row = next(line for line in out.splitlines() if line.startswith(case["name"] + " "))
        assert run.format_ratio(case["ratio"]) in row and "ok" in row

    groups = {group["title"]: group for group in report["groups"]}
    for title, target in TARGETS.items():
        group = groups[title]
        assert group["target"] == target and group["cases"]
        assert group["met"] == (group["median_ratio"] <= target)
        status = "met" if group["met"] else "NOT MET"
        line = next(line for line in out.splitlines() if line.startswith(title))
        assert line.endswith(f" {status}")
        assert run.format_ratio(group["median_ratio"]) in line
    assert groups["MNIST training epoch"]["cases"] == []
