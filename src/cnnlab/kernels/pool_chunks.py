"""Bounded scratch for the pooling kernels: run a kernel on groups of planes at a time.

Pooling treats every (image, channel) plane -- a line in 1-D, a plane in 2-D, a
volume in 3-D -- on its own, so a kernel's scratch can be bounded by feeding it a
slice of the planes at a time, and the slices can run on several threads
(:mod:`cnnlab.kernels.parallel`).
"""

from __future__ import annotations

import functools

import numpy as np

from . import parallel, window


def _plane_chunks(n: int, c: int, bytes_per_plane: int, elements_per_plane: int):
    """``(batch slice, channel slice)`` pairs covering all ``n * c`` planes.

    Each chunk's scratch stays within ``window.CONFIG.scratch_bytes`` divided among the
    threads that run chunks at once (whole images when one fits, else groups of
    channels of one image), and there are at least as many chunks as threads worth
    using. Slices give views: nothing is copied to split.
    """
    threads = parallel.threads_for(n * c * elements_per_plane)
    budget = max(1, window.CONFIG.scratch_bytes // threads)
    per_image = bytes_per_plane * c
    if n >= threads and (per_image <= budget or c == 1):
        per_chunk = _balanced(n, max(1, budget // max(per_image, 1)), threads)
        return [(slice(start, min(start + per_chunk, n)), slice(None))
                for start in range(0, n, per_chunk)]
    per_chunk = _balanced(c, max(1, budget // max(bytes_per_plane, 1)), threads)
    return [(slice(i, i + 1), channels) for i in range(n)
            for channels in (slice(start, min(start + per_chunk, c))
                             for start in range(0, c, per_chunk))]


def _balanced(n: int, most: int, threads: int) -> int:
    """Items per chunk: at most ``most``, and chunks in whole waves of ``threads``.

    Threads take chunks in waves (:func:`cnnlab.kernels.parallel.map_threads`), so
    3 chunks on 2 threads take as long as 4: use 4 smaller ones instead.
    """
    chunks = -(-n // max(1, most))
    chunks = -(-chunks // threads) * threads
    return max(1, -(-n // chunks))


def planes_in_chunks(plane_arrays, shape_argument=None, scratch_per_plane=6, plane_keywords=()):
    """Run a pooling kernel on groups of (image, channel) planes, never all at once.

    Pooling treats every plane on its own, so a kernel's scratch (padded copies,
    per-tap partial results: a few plane-sized arrays per plane) can be bounded by
    feeding it a slice of the planes at a time, and the slices can run on several
    threads (:mod:`cnnlab.kernels.parallel`). The decorated kernel then needs at most
    about ``window.CONFIG.scratch_bytes`` beyond its input and output, whatever the batch size.

    Parameters
    ----------
    plane_arrays : tuple of int
        Positions of the arguments shaped ``(N, C, ...)`` to slice.
    shape_argument : int, optional
        Position of an ``input_shape`` argument ``(N, C, *spatial)`` to adjust per chunk.
    scratch_per_plane : float or callable
        Scratch estimate, in float64 copies of the largest plane; or a function of
        the call's keyword arguments that returns it.
    plane_keywords : tuple of str
        Keyword arguments shaped ``(N, C, ...)`` (or None) to slice as well.
    """
    def decorate(kernel):
        @functools.wraps(kernel)
        def chunked(*args, **kwargs):
            arrays = [args[i] for i in plane_arrays]
            n, c = arrays[0].shape[:2]
            largest = max(int(np.prod(a.shape[2:], dtype=np.int64)) for a in arrays)
            if shape_argument is not None:
                largest = max(largest, int(np.prod(args[shape_argument][2:], dtype=np.int64)))
            scratch = (scratch_per_plane(kwargs) if callable(scratch_per_plane)
                       else scratch_per_plane)
            chunks = (_plane_chunks(n, c, int(largest * 8 * scratch), largest)
                      if n * c else [])
            if len(chunks) <= 1:
                return kernel(*args, **kwargs)

            def run(chunk):
                batch, channels = chunk
                chunk_args = list(args)
                for i in plane_arrays:
                    chunk_args[i] = args[i][batch, channels]
                if shape_argument is not None:
                    piece = chunk_args[plane_arrays[0]].shape[:2]
                    chunk_args[shape_argument] = piece + tuple(args[shape_argument][2:])
                chunk_kwargs = dict(kwargs)
                for name in plane_keywords:
                    if kwargs.get(name) is not None:
                        chunk_kwargs[name] = kwargs[name][batch, channels]
                return kernel(*chunk_args, **chunk_kwargs)

            outputs = None
            for (batch, channels), result in zip(chunks, parallel.map_threads(run, chunks)):
                parts = result if isinstance(result, tuple) else (result,)
                if outputs is None:
                    outputs = tuple(np.empty((n, c) + p.shape[2:], p.dtype) for p in parts)
                for output, part in zip(outputs, parts):
                    output[batch, channels] = part
            return outputs if isinstance(result, tuple) else outputs[0]
        return chunked
    return decorate
