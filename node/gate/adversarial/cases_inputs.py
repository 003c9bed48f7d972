"""Hostile inputs around the model: sample ids, tokenizers, chain pointers, hub manifests and blobs, lineage."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from node.data.sample import Sample
from node.data.tokenization import TokenizerPolicy, tokenize_samples
from node.data.tokenizer_files import load_tokenizer
from node.evaluation import EvalSettings, evaluate_checkpoint, sample_losses
from node.hub.directory import DirectoryHub
from node.identity import parse_pointer
from node.lineage import verify_growth
from node.modeling import load_model_for_eval
from node.refusal import RefusalKind as K

from .build import copy_model, deep_json, minimal_tokenizer_json
from .registry import case

HOTKEY = "5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"
COMMIT = "0" * 40
HASH = base64.b64encode(hashlib.sha256(b"model").digest()).decode()
TEXTS = ["hello world", "the quick brown fox", "jumps over the lazy dog"]


# ---- the engine ----

@case("engine", K.VOCAB)
def sample_id_beyond_vocab(tmp):
    model = load_model_for_eval(copy_model(tmp / "m"))
    return lambda: sample_losses(model, [[5, 9, 11], [3, 96, 4]])


@case("engine", K.VOCAB)
def negative_sample_id(tmp):
    model = load_model_for_eval(copy_model(tmp / "m"))
    return lambda: sample_losses(model, [[5, -1, 11]])


@case("engine", K.VOCAB)
def evaluate_checkpoint_sliced_beyond_vocab(tmp):
    path = copy_model(tmp / "m")
    return lambda: evaluate_checkpoint(path, [[5, 9, 10**6]], EvalSettings(memory_budget_bytes=200_000))


# ---- tokenizers ----

def model_tokenizer(tmp, text: str) -> Path:
    folder = tmp / "m"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(text)
    return folder


def tokenise_with_own(folder: Path, texts=TEXTS, vocab_size: int | None = None):
    policy = TokenizerPolicy(free_tokenizer=True, tokenizer=None)

    def attempt():
        samples = [Sample(f"s{i}", t, "adversarial") for i, t in enumerate(texts)]
        batch = tokenize_samples(samples, policy.load(folder), policy, vocab_size)
        if batch.refusal() is not None:
            raise batch.refusal()
        return batch

    return attempt


@case("tokenizer", K.BAD_TOKENIZER)
def regex_that_backtracks_panics(tmp):
    """onig gives up on `(a|a)+$` and the Rust side panics: a BaseException, caught and reported per sample."""
    pre = {"type": "Split", "pattern": {"Regex": "(a|a)+$"}, "behavior": "Isolated", "invert": False}
    folder = model_tokenizer(tmp, minimal_tokenizer_json(pre_tokenizer=pre))
    return tokenise_with_own(folder, ["a" * 3000 + "b", "hello"])


@case("tokenizer", K.BAD_TOKENIZER)
def tokenizer_not_json(tmp):
    return tokenise_with_own(model_tokenizer(tmp, "{not json"))


@case("tokenizer", K.BAD_TOKENIZER)
def tokenizer_nested_deep(tmp):
    return tokenise_with_own(model_tokenizer(tmp, '{"version": "1.0", "model": ' + deep_json(100_000) + "}"))


@case("tokenizer", K.BAD_TOKENIZER)
def tokenizer_unknown_model_type(tmp):
    text = json.loads(minimal_tokenizer_json())
    text["model"]["type"] = "EvilModel"
    return tokenise_with_own(model_tokenizer(tmp, json.dumps(text)))


@case("tokenizer", K.BAD_TOKENIZER)
def tokenizer_without_eos(tmp):
    vocab = {chr(c): i for i, c in enumerate(range(97, 123))} | {" ": 26, "<unk>": 27}
    text = json.loads(minimal_tokenizer_json())
    text["model"] = {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
    text["added_tokens"] = []
    return tokenise_with_own(model_tokenizer(tmp, json.dumps(text)))


@case("tokenizer", K.UNSAFE_FILE)
def tokenizer_symlink(tmp):
    (tmp / "real.json").write_text(minimal_tokenizer_json())
    folder = tmp / "m"
    folder.mkdir()
    (folder / "tokenizer.json").symlink_to(tmp / "real.json")
    return lambda: load_tokenizer(folder / "tokenizer.json", origin="model")


@case("tokenizer", K.UNSAFE_FILE)
def tokenizer_fifo(tmp):
    folder = tmp / "m"
    folder.mkdir()
    os.mkfifo(folder / "tokenizer.json")
    return lambda: load_tokenizer(folder / "tokenizer.json", origin="model")


@case("tokenizer", K.VOCAB)
def tokenizer_ids_beyond_model_vocab(tmp):
    return tokenise_with_own(model_tokenizer(tmp, minimal_tokenizer_json()), vocab_size=20)


# ---- chain pointers ----

def pointer(text: str):
    return lambda: parse_pointer(text)


def pointer_case(name: str, text: str) -> None:
    def build(tmp):
        return pointer(text)

    build.__name__ = name
    case("pointer", K.BAD_POINTER)(build)


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# The 43rd character of a 32-byte digest carries 2 unused bits; setting one decodes to the same digest.
_non_canonical = HASH[:42] + ALPHABET[ALPHABET.index(HASH[42]) ^ 1] + "="
pointer_case("hash_non_canonical_base64", f"alice:model:{COMMIT}:{_non_canonical}:c1")
pointer_case("pointer_six_fields", f"alice:model:{COMMIT}:{HASH}:c1:extra")
pointer_case("pointer_over_128_bytes", f"{'a' * 90}:model:{COMMIT}:{HASH}:c1")
pointer_case("pointer_non_ascii_repo", f"alicé:model:{COMMIT}:{HASH}:c1")
pointer_case("pointer_hash_wrong_length", f"alice:model:{COMMIT}:{HASH[:-4]}=:c1")
pointer_case("pointer_commit_uppercase", f"alice:model:{'A' * 40}:{HASH}:c1")
pointer_case("pointer_dotdot_name", f"alice:mo..del:{COMMIT}:{HASH}:c1")


# ---- the directory hub ----

def hub_with_model(tmp) -> tuple[DirectoryHub, str, str]:
    hub = DirectoryHub(tmp / "hub")
    revision = hub.upload("alice/model", copy_model(tmp / "m"))
    return hub, "alice/model", revision


def manifest_path(hub: DirectoryHub, repo: str, revision: str) -> Path:
    return hub.root / "repos" / repo / f"{revision}.json"


def edit_manifest(hub, repo, revision, edit) -> None:
    path = manifest_path(hub, repo, revision)
    manifest = json.loads(path.read_text())
    edit(manifest)
    os.chmod(path, 0o644)
    path.write_text(json.dumps(manifest))


def download(hub, repo, revision, dest, timeout=5.0):
    return lambda: hub.download(repo, revision, dest, timeout=timeout)


@case("hub", K.INTEGRITY)
def manifest_sha256_absolute_path(tmp):
    hub, repo, revision = hub_with_model(tmp)
    edit_manifest(hub, repo, revision, lambda m: m["files"][0].update(sha256="/etc/passwd"))
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY)
def manifest_name_escapes(tmp):
    hub, repo, revision = hub_with_model(tmp)
    edit_manifest(hub, repo, revision, lambda m: m["files"][0].update(name="../../evil.json"))
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY)
def manifest_files_not_a_list(tmp):
    hub, repo, revision = hub_with_model(tmp)
    edit_manifest(hub, repo, revision, lambda m: m.update(files={"a": 1}))
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY)
def manifest_contents_changed(tmp):
    """Sizes and hashes edited consistently: the revision id no longer matches the listed contents."""
    hub, repo, revision = hub_with_model(tmp)
    edit_manifest(hub, repo, revision, lambda m: m["files"].pop())
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY)
def manifest_nested_deep(tmp):
    hub, repo, revision = hub_with_model(tmp)
    path = manifest_path(hub, repo, revision)
    os.chmod(path, 0o644)
    path.write_text('{"files": ' + deep_json(100_000) + "}")
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY, seconds=8.0)
def blob_replaced_by_fifo(tmp):
    """A plain open() of a FIFO blocks forever, past any timeout."""
    hub, repo, revision = hub_with_model(tmp)
    info = hub.revision_info(repo, revision)
    blob = hub._blob(info.files[0].sha256)
    os.chmod(blob.parent, 0o755)
    blob.unlink()
    os.mkfifo(blob)
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY)
def blob_replaced_by_symlink(tmp):
    hub, repo, revision = hub_with_model(tmp)
    info = hub.revision_info(repo, revision)
    blob = hub._blob(info.files[0].sha256)
    blob.unlink()
    blob.symlink_to("/etc/passwd")
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY)
def blob_tampered(tmp):
    hub, repo, revision = hub_with_model(tmp)
    info = hub.revision_info(repo, revision)
    blob = hub._blob(info.files[-1].sha256)
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    return download(hub, repo, revision, tmp / "dl")


@case("hub", K.INTEGRITY)
def upload_with_symlinked_config(tmp):
    folder = copy_model(tmp / "m")
    (tmp / "config.json").write_text((folder / "config.json").read_text())
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to(tmp / "config.json")
    return lambda: DirectoryHub(tmp / "hub").upload("alice/model", folder)


@case("hub", K.REVISION_NOT_FOUND)
def revision_not_hex(tmp):
    hub, repo, _ = hub_with_model(tmp)
    return download(hub, repo, "../../../../etc/passwd", tmp / "dl")


@case("hub", K.TOO_LARGE)
def revision_over_byte_limit(tmp):
    hub, repo, revision = hub_with_model(tmp)
    return lambda: hub.download(repo, revision, tmp / "dl", max_bytes=1000)


@case("hub", K.BAD_POINTER)
def repo_id_escapes_hub_root(tmp):
    hub = DirectoryHub(tmp / "hub")
    return lambda: hub.revision_info("../..", COMMIT)


# ---- lineage ----

@case("lineage", K.BAD_JSON)
def lineage_child_nested_config(tmp):
    parent = copy_model(tmp / "parent")
    child = copy_model(tmp / "child")
    (child / "config.json").write_text('{"a": ' + deep_json(100_000) + "}")
    return lambda: verify_growth(parent, child, samples=[[5, 6, 7, 8]])


@case("lineage", K.TENSOR_SHAPE)
def lineage_child_lies_about_shapes(tmp):
    from .build import edit_tensors

    parent = copy_model(tmp / "parent")
    child = edit_tensors(copy_model(tmp / "child"),
                         lambda t: t.update({"model.norm.weight": t["model.norm.weight"][:8].clone()}))
    return lambda: verify_growth(parent, child, samples=[[5, 6, 7, 8]])
