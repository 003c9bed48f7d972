"""Starting from a chain pointer: the directory hub and the embedded chain, as a validator reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from miner.training import TrainConfig, TrainingRefusalKind, TrainingRefused, train
from miner.training.source import resolve_source
from node.chain.local import LocalChain
from node.chain.wallets import ensure_hotkey
from node.hub.directory import DirectoryHub
from node.identity import ModelPointer, folder_model_hash
from train_support import tiny_setup


@pytest.fixture
def network(tmp_path: Path):
    model_dir, corpus = tiny_setup(tmp_path / "tiny")
    hub = DirectoryHub(tmp_path / "hub")
    revision = hub.upload("alice/tiny", model_dir)
    chain_file = tmp_path / "chain.sqlite"
    chain = LocalChain.create(chain_file, block_time=0, commit_rate_limit=0)
    wallets = tmp_path / "wallets"
    miner, other = ensure_hotkey("m", "m1", wallets), ensure_hotkey("m", "m2", wallets)
    for wallet in (miner, other):
        chain.register(wallet.hotkey.ss58_address)
    honest = ModelPointer("alice", "tiny", revision, folder_model_hash(model_dir, miner.hotkey.ss58_address), "c1")
    chain.commit(miner, honest.format())
    copied = ModelPointer("alice", "tiny", revision, folder_model_hash(model_dir, miner.hotkey.ss58_address), "c1")
    chain.commit(other, copied.format())  # another hotkey committing miner's hash: not bound to it
    specs = {"hub": f"directory:{tmp_path / 'hub'}", "chain": f"embedded:{chain_file}"}
    return model_dir, corpus, honest, miner.hotkey.ss58_address, other.hotkey.ss58_address, specs


def test_hotkey_and_pointer_sources_download_the_committed_files(network, tmp_path) -> None:
    model_dir, _, pointer, hotkey, _, specs = network
    store = tmp_path / "store"
    source = resolve_source(f"hotkey:{hotkey}", store_root=store, **specs)
    assert source.lease is not None and source.path.is_relative_to(store)
    assert folder_model_hash(source.path, hotkey) == folder_model_hash(model_dir, hotkey)
    source.release()
    again = resolve_source(f"pointer:{pointer.format()}", store_root=store, hub=specs["hub"])
    assert again.path == source.path  # stored once, reused
    again.release()


def test_bad_sources_are_refused(network, tmp_path) -> None:
    _, _, pointer, _, other, specs = network
    cases = [f"hotkey:{other}",  # files do not hash to what this hotkey committed
             "pointer:alice:tiny:notacommit:x:c1", str(tmp_path / "nowhere"),
             "hotkey:5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"]  # nothing committed
    for spec in cases:
        with pytest.raises(TrainingRefused) as info:
            resolve_source(spec, store_root=tmp_path / "store", **specs)
        assert info.value.kind is TrainingRefusalKind.BAD_SOURCE, spec


def test_train_from_a_hotkey(network, tmp_path, monkeypatch) -> None:
    _, corpus, _, hotkey, _, specs = network
    monkeypatch.setenv("SN29_CACHE_DIR", str(tmp_path / "cache"))
    result = train(TrainConfig(model=f"hotkey:{hotkey}", out_dir=str(tmp_path / "out"), steps=1, micro_batch_size=2,
                               seq_len=16, corpus_path=str(corpus), eval_every=-1, threads=1, **specs))
    assert result.step == 1 and (result.model_dir / "tokenizer.json").is_file()
    assert (tmp_path / "cache" / "miner" / "models" / "models").is_dir()
