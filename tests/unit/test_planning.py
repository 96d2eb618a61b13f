"""neurovid.planning.known_signature: Snakemake sees the same arguments, answered from the
function itself (what keeps its per-job ``inspect.signature`` calls cheap)."""

from __future__ import annotations

import inspect

from snakemake.common import get_function_params

from neurovid.planning import known_signature


def test_known_signature_changes_nothing_but_the_lookup():
    def params(wildcards, output, attempt=1):
        return (wildcards, output, attempt)

    before = get_function_params(params)
    same = known_signature(params)
    assert same is params and same("w", "o") == ("w", "o", 1)
    assert params.__signature__ == inspect.signature(params)
    assert list(get_function_params(params)) == list(before) == ["wildcards", "output", "attempt"]
