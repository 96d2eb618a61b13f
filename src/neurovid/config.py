"""Configuration checks that give one clear line instead of a traceback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

#: folders of a BIDS dataset that hold raw data (output there would be indexed as input)
RAW_FOLDERS = ("sub-",)
#: config keys whose items are BIDS labels (strings, however they look)
LABEL_KEYS = ("participant_label", "exclude_participant_label", "session_label")


def _describe(error) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        scope = f" in '{where}'" if where else ""
        return (
            f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}{scope} "
            f"(allowed: {', '.join(allowed)})"
        )
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"'{where}' is {error.instance!r}; allowed: {allowed}"
    return f"'{where}': {error.message}" if where else error.message


def _coerce_booleans(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """``--config strict=true`` arrives as the string "true"; make it a bool."""
    for key, spec in schema.get("properties", {}).items():
        value = config.get(key)
        if spec.get("type") == "boolean" and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "on", "1"):
                config[key] = True
            elif lowered in ("false", "no", "off", "0"):
                config[key] = False
        elif spec.get("type") == "object" and isinstance(value, dict):
            _coerce_booleans(value, spec)


def check_labels(config: Mapping[str, Any]) -> None:
    """Refuse numbers where BIDS labels belong.

    YAML reads an unquoted ``01`` as the number 1 and ``010`` as 8 (octal), so
    ``participant_label: [01, 010]`` would silently select participants 1 and 8; what was
    written is lost by the time the config reaches us, so the only honest answer is an
    error that says to quote. ``--config participant_label='[01,02]'`` on the command line
    is read by Snakemake as strings and is fine; ``--config participant_label=01`` (no
    brackets) arrives as the number 1 and gets the same error.

    Raises
    ------
    ConfigError
        One line naming the key, the numbers and how to write them.
    """
    for key in LABEL_KEYS:
        value = config.get(key)
        items = value if isinstance(value, list) else [value]
        numbers = [v for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
        if not numbers:
            continue
        shown = ", ".join(str(v) for v in numbers)
        raise ConfigError(
            f"config error: {key} holds the number{'s' if len(numbers) > 1 else ''} {shown}, "
            "not labels (YAML reads an unquoted 01 as 1 and 010 as 8); quote every label: "
            f"{key}: ['01', '02'] in a YAML file, or --config {key}='[01,02]'"
        )


def validate_config(config: dict[str, Any], schema_path: str | os.PathLike[str]) -> None:
    """Validate (and fill defaults into) ``config`` with :func:`snakemake.utils.validate`.

    Raises
    ------
    ConfigError
        One line naming the key and what is wrong with it.
    """
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = yaml.safe_load(Path(schema_path).read_text())
    _coerce_booleans(config, schema)
    check_labels(config)
    try:
        validate(config, str(schema_path), set_default=True)
    except WorkflowError:
        # snakemake's message embeds the whole schema; find the precise error ourselves
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)
        best = jsonschema.exceptions.best_match(validator.iter_errors(config))
        message = _describe(best) if best is not None else "does not match config/schema.yaml"
        raise ConfigError(f"config error: {message}") from None


def check_paths(bids_dir: str, output_dir: str, *, is_default_demo: bool = False) -> list[str]:
    """Check ``bids_dir`` and ``output_dir``; return warnings, raise ConfigError on errors."""
    bids = Path(bids_dir)
    warnings = []
    if not str(bids_dir).strip():
        raise ConfigError("config error: bids_dir is empty; give --config bids_dir=DIR")
    if not bids.exists():
        hint = " (run `make demo` to build it)" if is_default_demo else ""
        raise ConfigError(f"config error: bids_dir '{bids_dir}' does not exist{hint}")
    if not bids.is_dir():
        raise ConfigError(f"config error: bids_dir '{bids_dir}' is not a folder")
    if not (bids / "dataset_description.json").is_file():
        warnings.append(
            f"warning: {bids_dir} has no dataset_description.json; is it a BIDS dataset?"
        )
    bids_abs = bids.resolve()
    out_abs = Path(output_dir).resolve()
    if out_abs == bids_abs:
        raise ConfigError(f"config error: output_dir '{output_dir}' is the BIDS dataset itself")
    if out_abs.is_relative_to(bids_abs):
        first = out_abs.relative_to(bids_abs).parts[0]
        if first.startswith(RAW_FOLDERS):
            raise ConfigError(
                f"config error: output_dir '{output_dir}' is inside the raw data folder "
                f"'{first}' of bids_dir; use e.g. {bids_dir}/derivatives/neurovid"
            )
    return warnings


def render_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``render`` section with every default filled in, for the render rule's params."""
    from .render import RenderOptions

    return RenderOptions.from_mapping(config.get("render", {})).to_dict()
