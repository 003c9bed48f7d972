"""Validator settings: defaults < config file < environment < flags, and clear errors for typos."""

from __future__ import annotations

import pytest

from validator.cli import build_parser, settings_from
from validator.settings import Settings, SettingsError, describe, resolve


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path):
    config = tmp_path / "validator.yaml"
    config.write_text("wallet:\n  name: from-file\n  hotkey: hk-file\nround.samples: 7\ndevice: cpu\n")
    env = {"SN29_VALIDATOR_WALLET_HOTKEY": "hk-env", "SN29_VALIDATOR_ROUND_SAMPLES": "9"}
    settings = resolve({"round_samples": 11}, env=env, config=str(config))
    assert (settings.wallet_name, settings.wallet_hotkey, settings.round_samples) == ("from-file", "hk-env", 11)
    assert settings.netuid == Settings().netuid


def test_cli_flags_use_bittensor_spelling_and_only_given_flags_count(tmp_path):
    config = tmp_path / "v.json"
    config.write_text('{"wallet.name": "file-name", "dont-set-weights": true}')
    args = build_parser().parse_args(["run", "--wallet.hotkey", "h1", "--subtensor.network", "test",
                                      "--netuid", "7", "--config", str(config)])
    settings = settings_from(args)
    assert (settings.wallet_name, settings.wallet_hotkey, settings.chain_spec, settings.netuid) == \
        ("file-name", "h1", "test", 7)
    assert settings.dont_set_weights is True
    args = build_parser().parse_args(["run", "--no-dont-set-weights", "--config", str(config)])
    assert settings_from(args).dont_set_weights is False


def test_node_wide_chain_and_hub_variables_apply_below_flags():
    settings = resolve({}, env={"SN29_CHAIN": "finney", "SN29_HUB": "hf"})
    assert (settings.chain_spec, settings.hub) == ("finney", "hf")
    assert resolve({"subtensor_network": "embedded"}, env={"SN29_CHAIN": "finney"}).chain_spec == "embedded"


@pytest.mark.parametrize(
    ("flags", "env", "match"),
    [
        ({}, {"SN29_VALIDATOR_WALET_NAME": "x"}, "unknown setting in environment variable SN29_VALIDATOR_WALET"),
        ({}, {"SN29_VALIDATOR_NETUID": "twelve"}, "--netuid: 'twelve' is not a valid int"),
        ({"offline": True, "subtensor_network": "finney"}, {}, "--offline forbids the chain"),
        ({"offline": True, "hub": "hf"}, {}, "--offline forbids the Hugging Face hub"),
        ({"round_interval_blocks": 0}, {}, "--round.interval_blocks must be positive"),
        ({"ema_alpha": 0.0}, {}, "ema_alpha"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(flags, env, match):
    with pytest.raises(SettingsError, match=match):
        resolve(flags, env=env)


def test_unknown_key_in_config_file(tmp_path):
    config = tmp_path / "v.yaml"
    config.write_text("wallet:\n  nmae: x\n")
    with pytest.raises(SettingsError, match="unknown setting 'wallet.nmae'"):
        resolve({}, env={}, config=str(config))


def test_samples_default_depends_on_device_and_token_is_masked():
    assert Settings(device="cpu").samples_per_round == 128
    assert Settings(device="cuda:0").samples_per_round == 1500
    assert Settings(round_samples=5).samples_per_round == 5
    assert describe(Settings(hub_token="secret"))["hub.token"] == "***"
