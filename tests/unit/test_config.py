"""Configuration mistakes give one clear line."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from neurovid.config import check_paths, render_options, validate_config
from neurovid.errors import ConfigError
from neurovid.render import RenderOptions

SCHEMA = REPO / "config" / "schema.yaml"
DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_shipped_config_is_valid_and_matches_render_defaults():
    config = copy.deepcopy(DEFAULT)
    validate_config(config, SCHEMA)
    assert render_options(config) == RenderOptions().to_dict()


def test_defaults_are_filled_in():
    config = {"bids_dir": "x"}
    validate_config(config, SCHEMA)
    assert config["suffixes"] == ["T1w"] and config["strict"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bids_dri": "x"}, "unknown key 'bids_dri' (allowed: bids_dir, exclude_participant"),
        ({"render": {"fsp": 3}}, "unknown key 'fsp' in 'render'"),
        ({"render": {"fps": "fast"}}, "'render.fps': 'fast' is not of type 'number'"),
        ({"strict": "maybe"}, "'strict': 'maybe' is not of type 'boolean'"),
        ({"render": {"display": "upside"}}, "'render.display' is 'upside'; allowed: neuro"),
        ({"participant_label": "01"}, "'participant_label': '01' is not of type 'array'"),
    ],
)
def test_wrong_config_gives_one_line(change, message):
    config = copy.deepcopy(DEFAULT)
    config.update(change)
    with pytest.raises(ConfigError) as raised:
        validate_config(config, SCHEMA)
    text = str(raised.value)
    assert text.startswith("config error: ") and "\n" not in text
    assert message in text


@pytest.mark.parametrize("key", ["participant_label", "exclude_participant_label",
                                 "session_label"])  # fmt: skip
def test_unquoted_numbers_in_a_yaml_label_list_are_an_error_that_says_to_quote(key):
    config = copy.deepcopy(DEFAULT)
    config.update(yaml.safe_load(f"{key}: [01, 010, '02']"))  # what YAML makes of it
    assert config[key] == [1, 8, "02"]
    with pytest.raises(ConfigError) as raised:
        validate_config(config, SCHEMA)
    text = str(raised.value)
    assert text.startswith(f"config error: {key} holds the numbers 1, 8, not labels")
    assert "quote every label" in text and "\n" not in text


def test_quoted_labels_and_command_line_lists_are_strings():
    config = {"bids_dir": "x", "participant_label": ["01", "sub-010"], "session_label": ["1"]}
    validate_config(config, SCHEMA)
    assert config["participant_label"] == ["01", "sub-010"]
    config = {"bids_dir": "x", "participant_label": 1}  # --config participant_label=01
    with pytest.raises(ConfigError, match="holds the number 1, not labels"):
        validate_config(config, SCHEMA)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("yes", True)])
def test_boolean_strings_from_the_command_line(text, value):
    config = {"bids_dir": "x", "strict": text}
    validate_config(config, SCHEMA)
    assert config["strict"] is value


def test_paths(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        check_paths(str(tmp_path / "nope"), str(tmp_path / "out"))
    bids = tmp_path / "bids"
    (bids / "sub-01").mkdir(parents=True)
    warnings = check_paths(str(bids), str(tmp_path / "out"))
    assert len(warnings) == 1 and "no dataset_description.json" in warnings[0]
    (bids / "dataset_description.json").write_text("{}")
    assert check_paths(str(bids), str(bids / "derivatives" / "neurovid")) == []
    with pytest.raises(ConfigError, match="inside the raw data folder 'sub-01'"):
        check_paths(str(bids), str(bids / "sub-01" / "qc"))
    with pytest.raises(ConfigError, match="is the BIDS dataset itself"):
        check_paths(str(bids), str(bids))
