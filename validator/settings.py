"""The validator's settings: one frozen dataclass, filled from defaults < config file < environment < flags.

Precedence (later wins), documented in the README:
1. the defaults below;
2. a config file (`--config FILE`, else `$SN29_VALIDATOR_CONFIG`): YAML or JSON, keys as the flags spell them
   without the leading dashes, either flat (`wallet.name: v1`) or nested (`wallet: {name: v1}`);
3. environment variables `SN29_VALIDATOR_<KEY>` with dots and dashes as underscores
   (`SN29_VALIDATOR_WALLET_NAME=v1`), plus the node-wide `$SN29_CHAIN` and `$SN29_HUB`;
4. command-line flags (bittensor spelling where bittensor has one: `--wallet.name`, `--subtensor.network`, ...).
Unknown keys in the file or the environment prefix are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from node.chain.factory import is_embedded
from node.paths import cache_dir

ENV_PREFIX = "SN29_VALIDATOR_"
CONFIG_ENV = "SN29_VALIDATOR_CONFIG"
MAX_CONFIG_BYTES = 1 << 20


class SettingsError(ValueError):
    """A setting that is unknown, of the wrong type, or contradicts another."""


@dataclass(frozen=True)
class Settings:
    """Everything a validator run is configured by. Field names are the flag names with `.`/`-` as `_`."""

    # where the network is
    subtensor_network: str = "embedded"  # embedded[:PATH] | finney | test | local | ws(s)://...
    subtensor_chain_endpoint: str | None = None  # overrides subtensor_network when set
    netuid: int = 29
    hub: str = "directory"  # directory[:PATH] | hf[:ENDPOINT]
    hub_token: str | None = None
    hub_attempts: int = 5  # tries per hub call (2 s backoff, doubling, Retry-After honoured up to 60 s)
    hub_timeout_s: float = 30.0  # per hub request (metadata; file reads use $HF_HUB_DOWNLOAD_TIMEOUT)
    competitions: str = "bundled"  # bundled | a file path | an http(s) URL
    competitions_refresh_s: float = 600.0
    dataset_endpoint: str | None = None  # FineWeb rows API endpoint (competitions with dataset "fineweb")
    offline: bool = False  # refuse every remote source (embedded chain, directory hub, bundled/local documents)
    # who we are
    wallet_name: str = "validator"
    wallet_hotkey: str = "default"
    wallet_path: str | None = None
    # where state lives
    state_dir: str = field(default_factory=lambda: str(cache_dir() / "validator"))
    store_max_bytes: int = 50 * 2**30  # downloaded models kept at most
    store_min_free_bytes: int = 2 * 2**30  # disk space always left free
    # rounds
    round_interval_blocks: int = 100  # rounds start at multiples of this block number
    round_samples: int = 0  # samples per round; 0 = auto (1500 on CUDA, 128 on CPU)
    round_max_models: int = 0  # models evaluated per competition per round; 0 = pool_size + pend_size
    revisit_rounds: int = 10  # a verified model outside the pool is re-evaluated at least this often
    poll_interval_s: float = 12.0
    max_rounds: int = 0  # stop after this many completed rounds (0 = run forever)
    resume_window_rounds: int = 1  # unfinished rounds at most this many intervals old are resumed, older abandoned
    # evaluation
    device: str = "cpu"
    eval_timeout_s: float = 1800.0
    eval_memory_fraction: float = 0.35
    eval_resident_fraction: float = 0.25  # of RAM: pool models kept loaded in the worker between rounds (CPU)
    download_timeout_s: float = 1800.0
    spot_check_fraction: float = 0.02
    spot_check_max: int = 10
    spot_check_tolerance: float = 1e-3  # relative drift beyond which a model's cached losses are discarded
    transient_retries: int = 3  # tries per model per round for hub/store failures
    lineage: bool = True  # certify declared parents (shown, never required)
    # weights
    weights_interval_blocks: int = 175  # at most this often (35 min at 12 s blocks, as the reference)
    weights_retries: int = 3
    dont_set_weights: bool = False
    ema_alpha: float = 0.5
    # operator interfaces
    metrics_port: int = 0  # 0 = off
    metrics_host: str = "127.0.0.1"
    logging_json: bool = False
    logging_debug: bool = False

    def __post_init__(self) -> None:
        for name in ("round_interval_blocks", "poll_interval_s", "eval_timeout_s", "download_timeout_s",
                     "hub_attempts", "hub_timeout_s"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{flag(name)} must be positive")
        for name in ("round_samples", "round_max_models", "max_rounds", "metrics_port", "weights_interval_blocks"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{flag(name)} must be >= 0")
        if not 0 < self.ema_alpha <= 1:
            raise SettingsError("--ema_alpha must be in (0, 1]")
        if not 0 <= self.eval_resident_fraction < 1:
            raise SettingsError("--eval.resident_fraction must be in [0, 1)")
        if not 0 <= self.spot_check_fraction <= 1:
            raise SettingsError("--spot_check_fraction must be in [0, 1]")
        if self.offline:
            if not is_embedded(self.chain_spec):
                raise SettingsError(f"--offline forbids the chain {self.chain_spec!r}")
            if self.hub.startswith("hf"):
                raise SettingsError("--offline forbids the Hugging Face hub")
            if self.competitions.startswith(("http://", "https://")):
                raise SettingsError("--offline forbids a competitions URL")

    @property
    def chain_spec(self) -> str:
        return self.subtensor_chain_endpoint or self.subtensor_network

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).expanduser()

    @property
    def samples_per_round(self) -> int:
        if self.round_samples:
            return self.round_samples
        return 1500 if self.device.startswith("cuda") else 128


def flag(name: str) -> str:
    """The command-line spelling of a field: `wallet_name` -> `--wallet.name` (first underscore is the dot)."""
    return "--" + _DOTTED.get(name, name)


# Fields whose flag has a dot (bittensor style); the rest are spelled as the field.
_DOTTED = {
    "subtensor_network": "subtensor.network",
    "subtensor_chain_endpoint": "subtensor.chain_endpoint",
    "wallet_name": "wallet.name",
    "wallet_hotkey": "wallet.hotkey",
    "wallet_path": "wallet.path",
    "hub_token": "hub.token",
    "hub_attempts": "hub.attempts",
    "hub_timeout_s": "hub.timeout_s",
    "competitions_refresh_s": "competitions.refresh_s",
    "dataset_endpoint": "dataset.endpoint",
    "state_dir": "state.dir",
    "store_max_bytes": "store.max_bytes",
    "store_min_free_bytes": "store.min_free_bytes",
    "round_interval_blocks": "round.interval_blocks",
    "round_samples": "round.samples",
    "round_max_models": "round.max_models",
    "eval_timeout_s": "eval.timeout_s",
    "eval_memory_fraction": "eval.memory_fraction",
    "eval_resident_fraction": "eval.resident_fraction",
    "download_timeout_s": "download.timeout_s",
    "weights_interval_blocks": "weights.interval_blocks",
    "weights_retries": "weights.retries",
    "dont_set_weights": "dont-set-weights",
    "metrics_port": "metrics.port",
    "metrics_host": "metrics.host",
    "logging_json": "logging.json",
    "logging_debug": "logging.debug",
    "max_rounds": "max-rounds",
}
_BY_KEY = {**{name: name for name in (f.name for f in fields(Settings))},
           **{dotted: name for name, dotted in _DOTTED.items()}}


def field_for_key(key: str) -> str:
    """The field a config/flag key names (`wallet.name`, `wallet_name`, `dont-set-weights` all work)."""
    normal = key.strip().lstrip("-")
    for candidate in (normal, normal.replace("-", "_"), normal.replace(".", "_").replace("-", "_")):
        if candidate in _BY_KEY:
            return _BY_KEY[candidate]
    raise SettingsError(f"unknown setting {key!r}")


def _coerce(name: str, value: Any) -> Any:
    """Convert a file/env value to the field's type (strings from the environment included)."""
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if value is None:
        if "None" in str(kind):
            return None
        raise SettingsError(f"{flag(name)} cannot be null")
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{flag(name)}: {value!r} is not a valid {kind}") from None


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, full))
        else:
            out[full] = value
    return out


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A config file's settings as `{field: value}`; YAML or JSON, at most 1 MiB."""
    file = Path(path).expanduser()
    try:
        data = file.read_bytes()
    except OSError as err:
        raise SettingsError(f"cannot read config file {file}: {err}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise SettingsError(f"config file {file} is over {MAX_CONFIG_BYTES} bytes")
    try:
        obj = json.loads(data) if file.suffix == ".json" else yaml.safe_load(data)
    except (ValueError, yaml.YAMLError) as err:
        raise SettingsError(f"config file {file} does not parse: {err}") from None
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise SettingsError(f"config file {file} must hold a mapping")
    return {field_for_key(key): _coerce(field_for_key(key), value) for key, value in _flatten(obj).items()}


def read_environment(env: Mapping[str, str]) -> dict[str, Any]:
    """`SN29_VALIDATOR_*` variables (and `$SN29_CHAIN`, `$SN29_HUB`) as `{field: value}`."""
    out: dict[str, Any] = {}
    names = {f.name for f in fields(Settings)}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        name = key.removeprefix(ENV_PREFIX).lower()
        if name not in names:
            raise SettingsError(f"unknown setting in environment variable {key}")
        out[name] = _coerce(name, value)
    if "SN29_CHAIN" in env and "subtensor_network" not in out:
        out["subtensor_network"] = env["SN29_CHAIN"]
    if "SN29_HUB" in env and "hub" not in out:
        out["hub"] = env["SN29_HUB"]
    return out


def resolve(flags: Mapping[str, Any], env: Mapping[str, str] | None = None, config: str | None = None) -> Settings:
    """Merge the four layers; `flags` holds only the flags given on the command line (`{field: value}`)."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    config = config or env.get(CONFIG_ENV)
    if config:
        merged.update(read_config_file(config))
    merged.update(read_environment(env))
    merged.update({field_for_key(k): v for k, v in flags.items()})
    try:
        return Settings(**merged)
    except TypeError as err:
        raise SettingsError(str(err)) from None


def describe(settings: Settings) -> dict[str, Any]:
    """The settings as `{flag: value}` for logs and `status --json` (the hub token is masked)."""
    out = {}
    for name, value in dataclasses.asdict(settings).items():
        out[_DOTTED.get(name, name)] = "***" if name == "hub_token" and value else value
    return out
