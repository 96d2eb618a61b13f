"""Keeping Snakemake's planning cheap when a study has tens of thousands of images.

Snakemake asks ``inspect.signature`` which arguments (``wildcards``, ``input``, ``output``,
``attempt``, ...) every function a rule gives it takes (input functions, params, resources),
for every job and several times a job: about 28 times per render job, ~15 µs each, so ~8 s
of a 20,000-image plan went into recomputing the same few signatures
(``benchmarks/bench_scale.py``, cProfile). A function that carries its ``__signature__`` is
answered by ``inspect`` as it is, about 7 times faster. :func:`known_signature` sets it once;
the function itself is unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

__all__ = ["known_signature"]

F = TypeVar("F", bound=Callable[..., object])


def known_signature(func: F) -> F:
    """Give ``func`` its own ``__signature__`` (what ``inspect.signature`` computes) and
    return it, so that Snakemake's per-job ``inspect.signature(func)`` is a lookup."""
    func.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
    return func
