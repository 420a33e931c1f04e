"""``cnnlab export``: a ``cnnlab train`` checkpoint as an ONNX model or a safetensors file.

Both files carry the run's class names and input normalisation (ONNX ``metadata_props``
/ the safetensors header, key ``cnnlab.run``), so ``cnnlab predict --model model.onnx``
classifies images as ``--checkpoint`` does. Also here: reading an ONNX file for
``cnnlab predict`` and ``cnnlab summary``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import cnnlab
from cnnlab.data import MNIST_NORMALIZE

from . import _common as common
from .train import CHECKPOINT, one_line

RUN_KEY = "cnnlab.run"
RUN_FIELDS = ("model", "dataset", "classes", "normalize")
IMAGE_SHAPE = (1, 1, 28, 28)


def checkpoint_path(text: str) -> Path:
    """A checkpoint file, or a run folder holding ``checkpoint.npz``."""
    path = Path(text)
    return path / CHECKPOINT if path.is_dir() else path


def run(args) -> int:
    from .predict import load_model

    report = common.Report(args.quiet)
    source = checkpoint_path(args.checkpoint)
    target = Path(args.to)
    if target.suffix not in (".onnx", ".safetensors"):
        raise common.CliError(f"--to must name a .onnx or .safetensors file, got '{args.to}'")
    if not target.parent.is_dir():
        raise common.CliError(f"cannot write '{target}': folder '{target.parent}' does not "
                              "exist")
    model, metadata = load_model(source)
    run_info = json.dumps({key: metadata[key] for key in RUN_FIELDS if key in metadata})
    try:
        if target.suffix == ".onnx":
            _onnx()
            shape = (1, *cnnlab.models.INPUT_SHAPES.get(metadata.get("model"), IMAGE_SHAPE[1:]))
            cnnlab.onnx.export(model, cnnlab.zeros(*shape), target,
                               opset_version=args.opset, metadata={RUN_KEY: run_info})
            how = ("run it with ONNX Runtime (onnxruntime.InferenceSession), or with "
                   f"'cnnlab predict --model {target} IMAGE'")
        else:
            cnnlab.save_weights(model, target, metadata={RUN_KEY: run_info})
            how = ("open it in PyTorch with safetensors.torch.load_file and "
                   "load_state_dict, or in cnnlab with cnnlab.load_weights")
    except OSError as error:
        raise common.CliError(f"cannot write '{target}': {error.strerror or error}") from None
    except ValueError as error:
        raise common.CliError(one_line(error)) from None
    report.say(f"{metadata.get('model')} trained on {metadata.get('dataset')} ({source})")
    report.show(f"wrote {target} ({target.stat().st_size:,} bytes)")
    report.say(how)
    return 0


def _onnx():
    try:
        import cnnlab.onnx  # noqa: F401
        import onnx  # noqa: F401
    except ImportError:
        raise common.CliError("ONNX files need the onnx package: pip install 'cnnlab[onnx]'"
                              ) from None


def load_onnx_model(path):
    """``(module, run metadata)`` of an ONNX file, for ``cnnlab predict --model``.

    A file without cnnlab's metadata (made elsewhere) is read as an MNIST classifier:
    classes ``'0 - class 0'``, ... and MNIST's normalisation; CliError when it cannot be
    read or run."""
    _onnx()
    path = Path(path)
    if not path.is_file():
        raise common.CliError(f"model '{path}' not found")
    try:
        model = cnnlab.onnx.load(path)
        metadata = json.loads(model.metadata.get(RUN_KEY, "{}"))
        if "classes" not in metadata:
            with cnnlab.no_grad():
                outputs = model(cnnlab.zeros(*IMAGE_SHAPE)).shape[-1]
            metadata = {"model": path.name, "dataset": "an unknown data set (no cnnlab "
                        "metadata in the file; MNIST's normalisation assumed)",
                        "classes": [f"{i} - class {i}" for i in range(outputs)],
                        "normalize": list(MNIST_NORMALIZE)}
    except (ValueError, TypeError) as error:
        raise common.CliError(one_line(error)) from None
    model.eval()
    return model, metadata


def onnx_summary(path, shape) -> list:
    """Lines describing an ONNX file's graph on an input of ``shape``: per node, its
    operator, output shape and parameter count."""
    _onnx()
    path = Path(path)
    if not path.is_file():
        raise common.CliError(f"model '{path}' not found")
    try:
        model = cnnlab.onnx.load(path)
        rows = model.node_table(cnnlab.zeros(*shape))
    except (ValueError, TypeError) as error:
        raise common.CliError(f"{path} on an input {'x'.join(map(str, shape))}: "
                              f"{one_line(error)}") from None
    table = [(label, "x".join(map(str, out)), f"{count:,}") for label, out, count in rows]
    total = sum(int(np.prod(p.shape)) for p in model.parameters())
    return common.table_lines(("node", "output", "params"), table) + [
        f"total parameters: {total:,} (opset {model.opset}, {len(rows)} nodes)"]


def register(commands) -> None:
    parser = commands.add_parser(
        "export", help="a trained checkpoint as an ONNX model or a safetensors weights file",
        description=common.description(
            "Write the model of a checkpoint made by 'cnnlab train' as ONNX (runs in ONNX "
            "Runtime and other runtimes; needs 'pip install cnnlab[onnx]') or as "
            "safetensors weights (opens in PyTorch with safetensors.torch.load_file). The "
            "class names and normalisation go along, for 'cnnlab predict --model'.",
            ["cnnlab export --checkpoint runs/lenet --to lenet.onnx",
             "cnnlab export --checkpoint runs/lenet/checkpoint.npz --to lenet.safetensors"]),
        formatter_class=common.HelpFormatter)
    parser.add_argument("--checkpoint", required=True, metavar="RUN",
                        help="a run folder of 'cnnlab train' or its checkpoint file")
    parser.add_argument("--to", required=True, metavar="FILE",
                        help="model.onnx or model.safetensors")
    parser.add_argument("--opset", type=int, default=17, metavar="N",
                        help="ONNX opset version (default: 17)")
    common.add_common(parser, out=False)
    parser.set_defaults(run=run)
