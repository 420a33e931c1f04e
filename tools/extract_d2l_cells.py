"""Extract the PyTorch code cells of the D2L book's CNN chapters into a JSON file.

The book (github.com/d2l-ai/d2l-en) writes each code cell as a fenced block
``{.python .input}`` whose first line ``%%tab pytorch, mxnet`` (or ``%%tab all``) names
the frameworks it is for. This script keeps the cells for PyTorch from the 13 sections
of the two CNN chapters, at a pinned revision, so the test that runs them
(tests/test_d2l_cells.py) does not need the book.

Usage::

    python tools/extract_d2l_cells.py GIT_DIR [--revision 23d7a5ae] [--out FILE.json]

``GIT_DIR`` is a clone of d2l-ai/d2l-en (its .git directory or a bare repository).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

REVISION = "23d7a5ae"
SECTIONS = [
    "chapter_convolutional-neural-networks/conv-layer",
    "chapter_convolutional-neural-networks/padding-and-strides",
    "chapter_convolutional-neural-networks/channels",
    "chapter_convolutional-neural-networks/pooling",
    "chapter_convolutional-neural-networks/lenet",
    "chapter_convolutional-modern/alexnet",
    "chapter_convolutional-modern/vgg",
    "chapter_convolutional-modern/nin",
    "chapter_convolutional-modern/googlenet",
    "chapter_convolutional-modern/batch-norm",
    "chapter_convolutional-modern/resnet",
    "chapter_convolutional-modern/densenet",
    "chapter_convolutional-modern/cnn-design",
]
# A code cell: ```{.python .input ...}\n<body>```
_CELL = re.compile(r"^```\{\.python \.input[^}]*\}\n(.*?)^```", re.MULTILINE | re.DOTALL)


def cells_of(markdown: str) -> list:
    """The PyTorch cells of one section: dicts with the tabs line and the code."""
    found = []
    for number, match in enumerate(_CELL.finditer(markdown)):
        body = match.group(1)
        first, _, rest = body.partition("\n")
        if not first.startswith("%%tab"):
            continue
        tabs = [t.strip() for t in first[len("%%tab"):].split(",")]
        if "pytorch" in tabs or "all" in tabs:
            found.append({"block": number, "tabs": tabs, "code": rest.rstrip("\n")})
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("git_dir")
    parser.add_argument("--revision", default=REVISION)
    parser.add_argument("--out", default=os.path.join("tests", "data", "d2l_cells.json"))
    args = parser.parse_args(argv)
    sections = []
    for path in SECTIONS:
        markdown = subprocess.run(["git", "--git-dir", args.git_dir, "show",
                                   f"{args.revision}:{path}.md"], capture_output=True,
                                  text=True, check=True).stdout
        sections.append({"section": path, "sha256": hashlib.sha256(markdown.encode()).hexdigest(),
                         "cells": cells_of(markdown)})
    total = sum(len(s["cells"]) for s in sections)
    document = {"source": "https://github.com/d2l-ai/d2l-en", "revision": args.revision,
                "tool": "tools/extract_d2l_cells.py", "count": total, "sections": sections}
    # written atomically: a temporary file in the same folder, then renamed over
    folder = os.path.dirname(os.path.abspath(args.out))
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")
    os.replace(handle.name, args.out)
    print(f"{total} PyTorch cells from {len(sections)} sections -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
