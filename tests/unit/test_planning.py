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


def test_snakemake_finds_the_arguments_without_inspect(monkeypatch):
    """The per-job lookup is answered from the function: ``inspect.signature`` is not
    called again, and what Snakemake passes (aux params, ``**kwargs``) is unchanged."""
    from snakemake.common import get_input_function_aux_params

    @known_signature
    def resource(wildcards, attempt):
        return attempt

    @known_signature
    def anything(wildcards, **kwargs):
        return kwargs

    def fail(*args, **kwargs):
        raise AssertionError("inspect.signature called")

    monkeypatch.setattr(inspect, "signature", fail)
    candidates = {"input": "i", "attempt": 2, "threads": 1}
    assert get_input_function_aux_params(resource, candidates) == {"attempt": 2}
    assert get_input_function_aux_params(anything, candidates) == candidates
    assert "groupid" not in get_function_params(resource)
