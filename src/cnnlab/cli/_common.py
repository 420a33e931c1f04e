"""What every command shares: argument types, the one-line error, the report printer.

Bad input never shows a traceback: argument parsing, reading an image and the
library's own checks raise :class:`CliError` (or are converted to it by
:func:`user_errors`), and :func:`cnnlab.cli.main` prints ``error: <message>`` on
stderr and returns 2.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import re
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

DEFAULT_OUT = "cnnlab-out"


class CliError(Exception):
    """Bad input: printed as one ``error: ...`` line, exit status 2."""


_INVALID_CHOICE = re.compile(r"(?P<head>argument .+?: invalid choice: '(?P<value>[^']*)')"
                             r" \(choose from (?P<choices>.*)\)$")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage dump) and never exit.

    A mistyped choice gets a "did you mean" (``cnnlab tarin`` -> ``'train'``), and an
    unknown option points to the help of the command it was given to
    (:func:`unknown_options`).
    """

    def error(self, message):
        match = _INVALID_CHOICE.match(message)
        if match:
            choices = re.findall(r"'([^']*)'", match["choices"])
            close = difflib.get_close_matches(match["value"], choices, n=1, cutoff=0.6)
            if close:
                message = f"{match['head']}; did you mean '{close[0]}'?"
        raise CliError(f"{message} (see '{self.prog} --help')")


def unknown_options(extra, command) -> CliError:
    """The error for arguments no parser took, pointing to the command's own help."""
    where = "cnnlab" if command is None else f"cnnlab {command}"
    return CliError(f"unrecognized arguments: {' '.join(extra)} (see '{where} --help')")


HelpFormatter = argparse.RawDescriptionHelpFormatter


def description(text: str, examples=(), extra: str = "") -> str:
    """A command's ``--help`` text: ``text`` wrapped, ``extra`` verbatim, then examples."""
    parts = [textwrap.fill(" ".join(paragraph.split()), 79)
             for paragraph in text.split("\n\n")]
    if extra:
        parts.append(extra)
    if examples:
        parts.append("examples:\n" + "\n".join(f"  {example}" for example in examples))
    return "\n\n".join(parts)


@contextlib.contextmanager
def user_errors():
    """Turn the library's ValueError/TypeError about the user's input into a CliError.

    The library's messages already name the function, the value and the rule."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise CliError(" ".join(str(error).split())) from None


# ------------------------------------------------------------ argument types

_INT = r"[+-]?\d+"


def _two_ints(text: str):
    """``'8x8'``, ``'3,4'`` or ``'8'`` (a square) -> ``(h, w)``; None if not of that form."""
    parts = [part.strip() for part in re.split("[x,]", text.strip())]
    if not all(re.fullmatch(_INT, part) for part in parts) or len(parts) > 2:
        return None
    values = tuple(int(part) for part in parts)
    return values * 2 if len(values) == 1 else values


def size(text: str) -> tuple:
    """``'8x8'``, ``'6,8'`` or ``'8'`` -> ``(height, width)``, both >= 1."""
    values = _two_ints(text)
    if values is None:
        raise argparse.ArgumentTypeError(
            f"expected a size HxW (e.g. 8x8) or one number for a square, got {text!r}")
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return values


def pair(minimum: int):
    """An argument type: ``'3'``, ``'3,4'`` or ``'3x4'`` -> ``(h, w)``, each >= minimum."""

    def parse(text: str) -> tuple:
        values = _two_ints(text)
        if values is None:
            raise argparse.ArgumentTypeError(
                f"expected one integer or two as H,W (e.g. 3 or 3,4), got {text!r}")
        if min(values) < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text!r}")
        return values

    parse.__name__ = "pair"
    return parse


def padding(text: str):
    """``'same'``, ``'valid'``, ``'1'`` or ``'0,1'`` (height, width), each >= 0."""
    if text.strip().lower() in ("same", "valid"):
        return text.strip().lower()
    try:
        return pair(0)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected 'same', 'valid', one integer or two as H,W (e.g. 1 or 0,1), "
            f"each >= 0, got {text!r}") from None


def matrix(text: str) -> np.ndarray:
    """``'1,-1'`` -> [[1, -1]]; rows separated by ``;`` (``'0,1;1,0'``).

    Integers stay integers (int64, as ``torch.tensor`` would make them); any decimal
    makes the matrix float32.
    """
    rows = text.strip().split(";")
    try:
        values = [[float(v) for v in row.replace(" ", "").split(",")] for row in rows]
    except ValueError:
        values = None
    if not values or any(len(row) != len(values[0]) for row in values):
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by ',' with rows separated by ';' "
            f"(e.g. '1,-1' or '0,1;1,0'), all rows of one length, got {text!r}")
    integral = all(re.fullmatch(r"\s*[+-]?\d+\s*", v) for row in rows for v in row.split(","))
    if integral:
        exact = [[int(v) for v in row.replace(" ", "").split(",")] for row in rows]
        limit = np.iinfo(np.int64)
        if any(not limit.min <= v <= limit.max for row in exact for v in row):
            raise argparse.ArgumentTypeError(
                f"integers must lie in [{limit.min}, {limit.max}] (int64), got {text!r}")
        return np.array(exact, dtype=np.int64)
    with np.errstate(over="ignore"):
        array = np.array(values).astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise argparse.ArgumentTypeError(
            f"numbers must be finite and within float32's range (|x| < 3.4e38), got {text!r}")
    return array


def _int_at_least(text: str, minimum: int, expected: str, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer", "must be >= 1")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def seed(text: str) -> int:
    return _int_at_least(text, 0, "an integer seed", "seeds must be >= 0")


def describe(pair_value) -> str:
    """``(3, 3)`` -> ``'3'``; ``(3, 4)`` -> ``'(3, 4)'``; ``'same'`` -> ``"'same'"``."""
    if isinstance(pair_value, str):
        return repr(pair_value)
    first, second = pair_value
    return str(first) if first == second else f"({first}, {second})"


def add_common(parser, out: bool = True) -> None:
    """``--quiet`` and (for commands that draw) ``--out DIR``."""
    if out:
        parser.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                            help=f"directory for the pictures (default: {DEFAULT_OUT})")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only the numbers and the files written, no explanations")


# ------------------------------------------------------------ the report


def output_directory(path) -> Path:
    """``path`` created if needed and checked writable, or a CliError."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise CliError(f"cannot write pictures to directory '{path}': {reason}") from None
    return directory


class Report:
    """Prints a command's text and saves its pictures.

    ``say`` and ``heading`` are explanations (dropped by ``--quiet``); ``show``
    prints numbers and code; ``save`` writes a picture and remembers its path for
    :meth:`list_files`.
    """

    WIDTH = 88

    def __init__(self, quiet: bool = False, out_dir=None, stream=None, numbered=False):
        self.quiet = quiet
        self.numbered = numbered
        self.sections = 0
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.stream = stream if stream is not None else sys.stdout
        self.files = []

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream)

    def heading(self, title: str) -> None:
        self.sections += 1
        if self.numbered:
            title = f"{self.sections}. {title}"
        if not self.quiet:
            self._print()
            self._print(title)
            self._print("-" * len(title))

    def say(self, text: str) -> None:
        """Explanations, wrapped; explicit newlines start new lines."""
        if not self.quiet:
            for line in text.split("\n"):
                if len(line) > self.WIDTH:
                    line = textwrap.fill(" ".join(line.split()), self.WIDTH,
                                         break_on_hyphens=False)
                self._print(line.rstrip())

    def show(self, text: str = "") -> None:
        self._print(str(text))

    def code(self, line: str, value=None) -> None:
        """``>>> line`` and, if given, the value it prints (as the notebook shows it)."""
        self._print(f">>> {line}")
        if value is not None:
            self._print(value if isinstance(value, str) else repr(value))

    def table(self, header, rows) -> None:
        self.show("\n".join(table_lines(header, rows)))

    def save(self, image, name: str) -> Path:
        path = self.out_dir / name
        try:
            image.save(path)
        except OSError as error:
            raise CliError(f"cannot write '{path}': {error.strerror or error}") from None
        self.files.append(path)
        return path

    def save_with(self, writer, name: str) -> Path:
        """Save through ``writer(path)`` (e.g. an animation's ``save_gif``)."""
        path = self.out_dir / name
        try:
            writer(path)
        except OSError as error:
            raise CliError(f"cannot write '{path}': {error.strerror or error}") from None
        self.files.append(path)
        return path

    def list_files(self) -> None:
        if not self.files:
            return
        if not self.quiet:
            self._print()
            self._print(f"Files written ({len(self.files)}):")
        for path in self.files:
            self._print(f"  {path}" if not self.quiet else str(path))


def table_lines(header, rows) -> list:
    """Rows of text aligned in columns under ``header``."""
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in cells]
