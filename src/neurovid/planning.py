"""Keeping Snakemake's planning cheap when a study has tens of thousands of images.

Snakemake asks which arguments (``wildcards``, ``input``, ``output``, ``attempt``, ...) every
function a rule gives it takes (input functions, params, resources), for every job and
several times a job (``snakemake.common.get_function_params``): about 19 times per render
job. Each answer was an ``inspect.signature`` call (signature, ``unwrap``, parameters),
~15 us, so several seconds of a 20,000-image plan went into recomputing the same few
signatures (``benchmarks/bench_scale.py``, py-spy). Snakemake first looks for the answer on
the function itself, in the attribute ``snakemake.common.overwrite_function_params`` sets
(meant for functions whose real arguments ``inspect`` cannot see); :func:`known_signature`
stores the function's own parameters there once, and its ``__signature__`` too (what
``inspect`` answers from, should Snakemake stop looking at the attribute). The function
itself is unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

from snakemake.common import overwrite_function_params

__all__ = ["known_signature"]

F = TypeVar("F", bound=Callable[..., object])


def known_signature(func: F) -> F:
    """Store ``func``'s parameters where Snakemake's per-job lookup finds them, and
    return ``func``."""
    signature = inspect.signature(func)
    func.__signature__ = signature  # type: ignore[attr-defined]
    # a mapping name -> inspect.Parameter, as get_function_params would return (Snakemake
    # checks names with `in` and the kinds with .values())
    overwrite_function_params(func, signature.parameters)  # type: ignore[arg-type]
    return func
