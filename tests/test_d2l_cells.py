"""The 98 PyTorch cells of the D2L book's 13 CNN sections, run on cnnlab and on PyTorch.

Cells come from tests/data/d2l_cells.json (tools/extract_d2l_cells.py, d2l-en at
23d7a5ae). Every cell must run on cnnlab. A cell's output is deterministic when PyTorch
prints the same under two seeds; every deterministic output must be cnnlab's output
exactly, reading ``torch.`` as ``cnnlab.``. Random outputs (trained weights, a random
input's convolution) are not compared: the two libraries draw different numbers.
Training cells run one epoch on 4 synthetic images of at most 72 x 72 pixels
(tests/d2l_book.py: tiny_training); they print nothing on stdout (the progress bar and
the curves' file name go to stderr), which is compared too.
"""

import pytest
import torch

import d2l_book

SECTIONS = d2l_book.load_sections()
_RESULTS = {}


def test_the_file_holds_the_98_cells_of_13_sections():
    assert len(SECTIONS) == 13
    assert sum(len(s["cells"]) for s in SECTIONS) == 98


@pytest.fixture(scope="module")
def single_thread_torch():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # PyTorch's threads fight cnnlab's for 2 shared cores
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("section", SECTIONS, ids=[s["section"].split("/")[1] for s in SECTIONS])
def test_section_runs_and_prints_what_torch_prints(section, tmp_path, single_thread_torch):
    with d2l_book.in_folder(tmp_path):
        ours = d2l_book.run_section(section, 0, "cnnlab")
        theirs = d2l_book.run_section(section, 0, "torch")
        # the second seed only tells deterministic outputs apart: training cells print
        # nothing on stdout, so they are left out of it (time)
        theirs_again = d2l_book.run_section(section, 1, "torch", train=False)
    failures, compared = [], 0   # deterministic outputs that are not empty
    for number, (cell, (out, error), (ref, ref_error), (ref2, _)) in enumerate(
            zip(section["cells"], ours, theirs, theirs_again)):
        assert ref_error is None, f"cell {number} fails on PyTorch: {ref_error}"
        if error is not None:
            failures.append(f"cell {number} raises {error}\n{cell['code']}")
        elif ref == ref2 or (d2l_book.is_training_cell(cell["code"]) and ref == ""):
            compared += ref != ""
            if out != d2l_book.normalise(ref):
                failures.append(f"cell {number} prints\n{out}\nPyTorch prints\n"
                                f"{d2l_book.normalise(ref)}\n{cell['code']}")
    _RESULTS[section["section"]] = (len(ours), compared)
    assert not failures, "\n\n".join(failures)


def test_enough_outputs_were_compared():
    """Guards against a runner that compares nothing: 31 cells print a deterministic,
    non-empty output (shapes, layer summaries, the chapter's small tensors)."""
    if len(_RESULTS) < len(SECTIONS):
        pytest.fail("run with the section tests (they record what they compared)")
    compared = sum(c for _, c in _RESULTS.values())
    assert compared >= 31, _RESULTS
