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
import book_models  # noqa: E402
import cases_book  # noqa: E402
import memory  # noqa: E402


def _load_runner():
    """benchmarks/run.py under a name that cannot clash with another ``run`` module."""
    spec = importlib.util.spec_from_file_location("cnnlab_benchmarks_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


run = _load_runner()

TARGETS = {  # the project's targets (median ratio cnnlab / PyTorch; issue 16's table)
    "3x3 conv forward (64-256 channels)": 1.1,
    "1x1 conv forward": 0.8,
    "conv forward+backward (dense cases)": 1.5,
    "depthwise conv forward+backward": 2.0,
    "max/avg pool forward": 0.5,
    "max/avg pool forward+backward": 1.0,
    "LeNet training step, both variants (batch 64, 128)": 1.2,
    "tiny-op call latency": 1.5,
    "conv2d backward alone, ResNet-18 96-px shapes": 1.2,
    "ResNet-18 training step (96 px, batch 128)": 1.3,
    "batch norm forward+backward": 1.2,
    "first call of a new conv shape (x its steady time)": 3.0,
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
    import cnnlab

    torch_threads = torch.get_num_threads()
    cnnlab_threads = cnnlab.get_num_threads()
    blas_threads = _timing.numpy_blas()["threads"]
    yield
    torch.set_num_threads(torch_threads)
    cnnlab.set_num_threads(cnnlab_threads)
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
    cases = run.all_cases(with_epoch=True)
    names = [case.name for case in cases]
    assert len(names) == len(set(names))
    for label, *_ in run.CONVS:
        assert f"conv {label} fwd" in names and f"conv {label} fwd+bwd" in names
    assert sum(name.startswith("pool ") for name in names) == 8
    keys = {group.key for group in run.GROUPS}
    assert all(set(case.groups) <= keys and case.suite in run.SUITES for case in cases)
    assert {g.title: g.target for g in run.GROUPS if g.target is not None} == TARGETS
    # issue 16: the book's networks, each convolution's backward halves, batch norm,
    # first calls
    for network in ("lenet", "resnet18", "densenet"):
        assert f"book {network} train step" in names and f"book {network} eval forward" in names
    shapes = book_models.resnet18_conv_shapes(96)
    assert len(shapes) == 11
    for label, in_channels, *_ in shapes:
        assert f"conv bwd dW {label}" in names
        assert (f"conv bwd dX {label}" in names) == (in_channels != 1)  # not the image's
    assert sum(name.startswith("batchnorm2d ") for name in names) == 5
    assert sum(name.startswith("first call ") for name in names) == 2
    assert {case.suite for case in cases if case.name.startswith(("book", "conv bwd"))} == {
        "book"}


def test_resnet18_conv_shapes_are_the_models_convolutions():
    """The backward cases' shapes, derived from the stage table, against the
    convolutions the book's ResNet-18 really runs on a 96-pixel image."""
    model = book_models.book_resnet18(book_models.torch_library())
    seen = set()

    def record(module, inputs, output):
        x = inputs[0]
        seen.add((module.in_channels, x.shape[-1], module.out_channels,
                  module.kernel_size[0], module.stride[0], module.padding[0]))
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(record)
    with torch.no_grad():
        model(torch.zeros(1, 1, 96, 96))
    assert {tuple(spec[1:]) for spec in book_models.resnet18_conv_shapes(96)} == seen


@pytest.mark.parametrize("kind, image", [("lenet", 28), ("resnet18", 48), ("densenet", 48)])
def test_book_twins_agree_and_have_the_books_size(kind, image):
    import cnnlab

    c_model, t_model = book_models.twins(kind)
    x, _ = book_models.random_batch(2, image)
    t_model.eval()
    c_model.eval()
    with torch.no_grad():
        want = t_model(torch.from_numpy(x)).numpy()
    with cnnlab.no_grad():
        got = c_model(cnnlab.from_numpy(x)).numpy()
    assert got.shape == (2, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # parameter counts of the book's networks on 1-channel, 10-class images
    count = sum(p.numel() for p in t_model.parameters())
    assert count == {"lenet": 61_706, "resnet18": 11_178_378, "densenet": 758_226}[kind]


def test_network_check_lets_only_exact_zero_gradients_differ_by_rounding():
    big = torch.tensor([1.0, -2.0])
    zero_torch, zero_cnnlab = torch.tensor([3e-3, -1e-3]), torch.tensor([-2e-7, 5e-8])
    loss = torch.tensor(0.5)
    check = cases_book.network_check
    assert check([loss, big, zero_cnnlab], [loss, big, zero_torch], 2, {1})[0]
    # a "zero" gradient that is not small in cnnlab, or compared as a real one
    assert not check([loss, big, big], [loss, big, zero_torch], 2, {1})[0]
    assert not check([loss, big, zero_cnnlab], [loss, big, zero_torch], 2)[0]
    # real gradients are compared in norm, within GRADIENT_RTOL; the loss tightly
    ok, error = check([loss, big * 1.01, zero_cnnlab], [loss, big, zero_torch], 2, {1})
    assert ok and error == pytest.approx(0.01)
    assert not check([loss, big * 1.1, zero_cnnlab], [loss, big, zero_torch], 2, {1})[0]
    assert not check([loss * 1.01, big, zero_cnnlab], [loss, big, zero_torch], 2, {1})[0]
    assert check([loss], [loss, big], 1) == (False, None)


@pytest.mark.parametrize("kind", ["resnet18", "densenet"])
def test_exact_zero_gradients_are_zero_in_float64_and_only_those(kind):
    torch.manual_seed(0)
    model = book_models.BUILDERS[kind](book_models.torch_library()).double()
    x, y = book_models.random_batch(4, 48)
    torch.nn.functional.cross_entropy(model(torch.from_numpy(x).double()),
                                      torch.from_numpy(y)).backward()
    grads = {name: p.grad.abs().max().item() for name, p in model.named_parameters()}
    largest = max(grads.values())
    zero = book_models.exact_zero_gradients(kind, model)
    assert zero <= grads.keys() and len(zero) == {"resnet18": 17, "densenet": 21}[kind]
    # zero but for rounding (DenseNet's stem BN weight: but for the next norms' eps)
    assert all(grads[name] <= 1e-5 * largest for name in zero)
    assert all(grads[name] > 1e-4 * largest for name in grads.keys() - zero)


def test_select_cases_by_suite_group_and_name():
    cases = run.all_cases(with_epoch=False)
    book = run.select_cases(cases, "book")
    assert book and all(case.suite == "book" for case in book)
    assert len(book) + len(run.select_cases(cases, "core")) == len(cases)
    chosen = run.select_cases(cases, "batchnorm, first_call")
    assert {case.groups[0] for case in chosen} == {"batchnorm", "first_call"}
    assert [c.name for c in run.select_cases(cases, "conv_bwd_dx", "512")] == [
        "conv bwd dX 256->512 3x3 s2", "conv bwd dX 256->512 1x1 s2", "conv bwd dX 512 3x3"]
    assert run.select_cases(cases, "", "") == cases


def test_memory_report_lines():
    reports = {"cnnlab": {"batch": 4, "image": 48, "steps": 2, "rise_mib": 60.0,
                          "peak_mib": 160.0, "before_mib": 100.0, "peak_reset": True,
                          "tracemalloc_mib": 50.0, "scratch_budget_mib": 256.0},
               "torch": {"batch": 4, "image": 48, "steps": 2, "rise_mib": 120.0,
                         "peak_mib": 400.0, "before_mib": 280.0, "peak_reset": False}}
    lines = memory.format_report(reports)
    assert "(batch 4, 48 px, 2 steps" in lines[0]
    assert lines[1].startswith("  cnnlab  +60 MiB resident") and "+50 MiB" in lines[1]
    assert "peak not reset" in lines[2] and "peak not reset" not in lines[1]
    assert lines[3] == "  ratio cnnlab / PyTorch (resident rise): 0.50"
    lines = memory.format_report({"cnnlab": reports["cnnlab"], "torch": {"error": "boom"}})
    assert lines[2] == "  torch   error: boom" and len(lines) == 3


def test_group_summary_marks_targets_and_ignores_failed_cases():
    results = [run.Result("a", "", ("tiny",), ratio=0.5),
               run.Result("b", "", ("tiny",), ratio=1.6),
               run.Result("c", "", ("tiny",), ratio=3.0),
               run.Result("d", "", ("tiny",), status="error"),
               run.Result("e", "", ("pool_fwd",), ratio=0.6)]
    summary = {g["key"]: g for g in run.group_summary(results)}
    assert summary["tiny"]["cases"] == ["a", "b", "c"]
    assert summary["tiny"]["median_ratio"] == 1.6 and summary["tiny"]["met"] is False
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
    (["--only", "book,books"], "--only books: not a suite or group; choose from core, book"),
    (["--threads", "0"], "--threads must be >= 1, got 0"),
    (["--quick", "--smoke"], "--quick and --smoke are exclusive"),
], ids=["repeat-0", "unknown-only", "threads-0", "quick-and-smoke"])
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
    assert "cnnlab.get_num_threads() = 1" in out

    report = json.loads(json_path.read_text())
    names = [case.name for case in run.all_cases(with_epoch=False)]
    assert [case["name"] for case in report["cases"]] == names
    assert report["machine"]["torch_threads"] == 1 and report["machine"]["blas"]["threads"] == 1
    sgemm = report["sgemm"]
    assert sgemm["numpy_gflops"] > 0 and sgemm["torch_gflops"] > 0
    assert f"NumPy {sgemm['numpy_gflops']:.0f} GFLOP/s" in out
    for case in report["cases"]:
        assert case["status"] == "ok", case
        assert case["max_error"] < run.RTOL
        assert case["cnnlab_s"] > 0 and case["torch_s"] > 0
        row = next(line for line in out.splitlines() if line.startswith(case["name"] + " "))
        assert run.format_ratio(case["ratio"]) in row and "ok" in row
        assert case["cnnlab_s"] == pytest.approx(statistics.median(case["cnnlab_samples_s"]))
        if "first_call" in case["groups"]:
            # cnnlab's first call over its own steady time, PyTorch's alongside
            assert len(case["cnnlab_samples_s"]) == 2 and "ratio = first/steady" in row
            continue
        ratios = [c / t for c, t in zip(case["cnnlab_samples_s"], case["torch_samples_s"])]
        assert case["ratio"] == pytest.approx(statistics.median(ratios))
        whole_network = case["name"].startswith(("book resnet18", "book densenet"))
        assert (case["peak_mib"] is None) == whole_network, case["name"]
        assert (case["cnnlab_gflops"] is not None) == case["name"].startswith("conv "), case
        if case["cnnlab_gflops"] is not None:
            rates = f"{case['cnnlab_gflops']:.0f}/{case['torch_gflops']:.0f}"
            assert rates in row and case["cnnlab_gflops"] > 0

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
    assert len(groups["book networks, eval forward (batch 128)"]["cases"]) == 3

    # the ResNet-18 step's peak memory, each library in its own process
    for library in ("cnnlab", "torch"):
        measured = report["memory"][library]
        assert "error" not in measured, measured
        assert (measured["batch"], measured["image"]) == (4, 48)
        assert measured["peak_mib"] >= measured["before_mib"] > 0 and measured["rise_mib"] > 0
        assert f"  {library:<7} +{measured['rise_mib']:.0f} MiB resident" in out
    assert report["memory"]["cnnlab"]["tracemalloc_mib"] > 0


def test_profile_step_prints_where_a_step_spends_its_time(capsys, restore_threads):
    import profile_step

    assert profile_step.main(["lenet", "--batch", "4", "--top", "5", "--sort", "tottime"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cnnlab lenet: 1 step(s), batch 4, 28 px;")
    assert "threads: cnnlab 1, BLAS 1" in out and "by own time:" in out
    assert "by cumulative time:" not in out
    rows = out.split("by own time:\n")[1].splitlines()[1:]
    assert len(rows) == 5
    share = [float(row.split()[1]) for row in rows]  # own time, % of the profiled total
    assert share == sorted(share, reverse=True) and 0 < share[0] <= 100
