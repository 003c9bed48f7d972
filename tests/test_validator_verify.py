"""Verification before evaluation: metadata checks before any download, then the downloaded files."""

from __future__ import annotations

import pytest

from node.competitions import Competition
from node.competitions.limits import model_limits
from node.hub.directory import DirectoryHub
from node.hub.store import ModelStore
from node.identity import ModelPointer, bind_to_hotkey, digests_from_folder, model_hash, reference_dir_hash
from node.refusal import RefusalKind, Refused
from node.verify import fetch_and_verify
from tiny_models import tiny_model

HOTKEY = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
OTHER = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"


@pytest.fixture
def env(tmp_path):
    folder = tmp_path / "model"
    tiny_model("llama").save_pretrained(folder)
    hub = DirectoryHub(tmp_path / "hub")
    revision = hub.upload("alice/tiny", folder)
    store = ModelStore(tmp_path / "store", max_bytes=10**9)
    return folder, hub, revision, store, competition()


def competition(model_types=("LlamaForCausalLM",), model_size=10**8, parameters=10**7) -> Competition:
    return Competition("c", 1.0, model_types, model_size, parameters, "corpus", tokenizer="gpt2", max_sequence_len=256)


def pointer(revision: str, hash_: str) -> ModelPointer:
    return ModelPointer("alice", "tiny", revision, hash_, "c")


def verify(env, ptr, hotkey=HOTKEY, rules=None):
    _, hub, _, store, default = env
    rules = rules or default
    return fetch_and_verify(hub, store, ptr, hotkey, rules, model_limits(rules, "float32"), timeout_s=60)


def test_our_hash_and_the_reference_scheme_are_both_accepted(env):
    folder, _, revision, store, _ = env
    digests = digests_from_folder(folder)
    ours = verify(env, pointer(revision, model_hash(digests, HOTKEY)))
    assert ours.hash_scheme == "sn29-v1" and ours.checked.parameters > 0
    ours.lease.release()
    theirs = verify(env, pointer(revision, bind_to_hotkey(reference_dir_hash(digests), HOTKEY)))
    assert theirs.hash_scheme == "reference" and theirs.content_hash == ours.content_hash
    theirs.lease.release()


def test_metadata_refusals_happen_before_any_download(env):
    folder, _, revision, store, _ = env
    good = model_hash(digests_from_folder(folder), HOTKEY)
    with pytest.raises(Refused) as info:
        verify(env, pointer(revision, good), hotkey=OTHER)  # someone else's upload under another hotkey
    assert info.value.kind is RefusalKind.HASH_MISMATCH
    small = competition(model_size=1000)
    with pytest.raises(Refused) as info:
        verify(env, pointer(revision, good), rules=small)
    assert info.value.kind is RefusalKind.TOO_LARGE
    assert store.models() == [] and not any((store.root / "partial").iterdir())
    with pytest.raises(Refused) as info:
        verify(env, pointer("0" * 40, good))
    assert info.value.kind is RefusalKind.REVISION_NOT_FOUND


def test_the_gate_runs_on_the_downloaded_folder(env):
    folder, _, revision, _, _ = env
    phi_only = competition(model_types=("Phi3ForCausalLM",))
    with pytest.raises(Refused) as info:
        verify(env, pointer(revision, model_hash(digests_from_folder(folder), HOTKEY)), rules=phi_only)
    assert info.value.kind is RefusalKind.ARCHITECTURE
    few = competition(parameters=1000)
    with pytest.raises(Refused) as info:
        verify(env, pointer(revision, model_hash(digests_from_folder(folder), HOTKEY)), rules=few)
    assert info.value.kind is RefusalKind.TOO_MANY_PARAMETERS
