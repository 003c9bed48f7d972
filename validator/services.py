"""Every component a validator run uses, built from its settings in one visible place.

Chain, hub, model store, state database, competitions source, the isolated evaluation worker and the weight
setter: `build_services(settings)` wires them; nothing else in the validator constructs a boundary object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.chain import Chain, open_chain
from node.chain.wallets import ensure_hotkey, load_wallet
from node.competitions import CompetitionsSource
from node.data import CorpusSource
from node.hub import ModelHub, open_hub
from node.hub.store import ModelStore
from node.worker import IsolatedWorker
from validator import VERSION_KEY
from validator.settings import Settings
from validator.state import StateStore
from validator.weights import WeightSetter


@dataclass
class Services:
    settings: Settings
    chain: Chain
    hub: ModelHub
    store: ModelStore
    state: StateStore
    competitions: CompetitionsSource
    worker: IsolatedWorker
    wallet: Any
    hotkey: str
    weights: WeightSetter
    corpus: CorpusSource | None = None
    _fineweb: Any = field(default=None, repr=False)

    def fineweb(self):
        """The FineWeb-Edu sample source (rows API + the node's sample cache), built on first use."""
        if self._fineweb is None:
            if self.settings.offline:
                raise RuntimeError("--offline: a competition uses the fineweb dataset, which needs the network")
            from node.data import FineWebSource, RowsApiClient, SampleCache, default_cache_path

            client = RowsApiClient(self.settings.dataset_endpoint) if self.settings.dataset_endpoint else None
            self._fineweb = FineWebSource(client, SampleCache(default_cache_path()))
        return self._fineweb

    def close(self) -> None:
        self.worker.close()
        self.state.close()
        self.chain.close()


def build_services(settings: Settings, *, create_hotkey: bool | None = None) -> Services:
    """Open every boundary the settings name. On the embedded chain a missing hotkey is created offline."""
    chain = open_chain(settings.chain_spec, settings.netuid)
    from node.chain.factory import is_embedded

    make = is_embedded(settings.chain_spec) if create_hotkey is None else create_hotkey
    loader = ensure_hotkey if make else load_wallet
    wallet = loader(settings.wallet_name, settings.wallet_hotkey, settings.wallet_path)
    hotkey = wallet.hotkey.ss58_address
    state_dir = settings.state_path
    state_dir.mkdir(parents=True, exist_ok=True)
    state = StateStore(state_dir / "state.sqlite")
    state.set_meta("hotkey", hotkey)
    store = ModelStore(state_dir / "models", max_bytes=settings.store_max_bytes,
                       min_free_bytes=settings.store_min_free_bytes)
    worker = IsolatedWorker()

    weights = WeightSetter(chain, wallet, state, interval_blocks=settings.weights_interval_blocks,
                           retries=settings.weights_retries, version_key=VERSION_KEY,
                           dont_set=settings.dont_set_weights)
    competitions = CompetitionsSource(settings.competitions, refresh_s=settings.competitions_refresh_s)
    hub = open_hub(settings.hub, token=settings.hub_token, attempts=settings.hub_attempts,
                   timeout_s=settings.hub_timeout_s)
    services = Services(settings, chain, hub, store, state, competitions, worker, wallet, hotkey, weights)
    weights.on_error = lambda kind: services.state.note_error("chain_errors", kind)  # whichever state is current
    return services
