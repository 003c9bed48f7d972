"""Model identity: strict pointer parsing and the canonical hotkey-bound model hash."""

from __future__ import annotations

import base64
import hashlib

import pytest

from node.identity import (
    FileDigest,
    FileNameError,
    ModelPointer,
    PointerError,
    digests_from_folder,
    dir_hash,
    folder_model_hash,
    format_pointer,
    model_hash,
    parse_pointer,
    read_pointer,
    select_model_files,
)
from node.refusal import RefusalKind

COMMIT = "0123456789abcdef0123456789abcdef01234567"
HASH = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
GOOD = f"coldint:llama-1b_v2.0:{COMMIT}:{HASH}:c00"
HOTKEY_A = "5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"
HOTKEY_B = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


def test_round_trip() -> None:
    pointer = parse_pointer(GOOD)
    assert pointer == ModelPointer("coldint", "llama-1b_v2.0", COMMIT, HASH, "c00")
    assert pointer.repo_id == "coldint/llama-1b_v2.0"
    assert format_pointer(pointer) == GOOD == pointer.format()
    assert parse_pointer(pointer.format()) == pointer


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "fields"),
        ("a:b:c:d", "fields"),
        (GOOD + ":extra", "fields"),
        (" " + GOOD, "whitespace"),
        (GOOD.replace("coldint", ""), "namespace is empty"),
        (GOOD.replace("llama-1b_v2.0", ""), "name is empty"),
        (GOOD.replace("coldint", "cold/int"), "namespace"),
        (GOOD.replace("coldint", "-coldint"), "namespace"),
        (GOOD.replace("coldint", "cold--int"), "'--'"),
        (GOOD.replace("coldint", "cold..int"), "'--' or '..'"),
        (GOOD.replace("llama-1b_v2.0", "model.git"), ".git"),
        (GOOD.replace("coldint", "célia"), "namespace"),
        (GOOD.replace(COMMIT, COMMIT[:-1]), "commit"),
        (GOOD.replace(COMMIT, COMMIT.upper()), "commit"),
        (GOOD.replace(COMMIT, "g" * 40), "commit"),
        (GOOD.replace(HASH, HASH[:-1]), "hash"),
        (GOOD.replace(HASH, HASH[:-1] + "A"), "hash"),
        (GOOD.replace(HASH, "!" * 43 + "="), "hash"),
        (GOOD.replace("c00", ""), "competition"),
        (GOOD.replace("c00", "c 0"), "competition"),
        (f"a:b:{COMMIT}:{HASH}:{'c' * 33}", "competition"),
        (f"{'n' * 30}:{'m' * 30}:{COMMIT}:{HASH}:c00", "bytes"),
    ],
)
def test_rejections_name_the_rule(text: str, fragment: str) -> None:
    with pytest.raises(PointerError) as info:
        parse_pointer(text)
    assert fragment in info.value.reason
    result = read_pointer(text)
    assert not result.ok and result.pointer is None and fragment in (result.reason or "")


@pytest.mark.parametrize("junk", [None, 42, b"bytes", ["list"], "\x00" * 10, "::::", "é" * 200])
def test_reader_never_raises(junk: object) -> None:
    result = read_pointer(junk)
    assert not result.ok and result.reason


def test_pointer_object_cannot_be_invalid() -> None:
    with pytest.raises(PointerError):
        ModelPointer("ok", "ok", "nothex", HASH, "c00")


def _digests() -> list[FileDigest]:
    return [
        FileDigest("model.safetensors", hashlib.sha256(b"weights").hexdigest(), 7),
        FileDigest("config.json", hashlib.sha256(b"{}").hexdigest(), 2),
        FileDigest("tokenizer.json", hashlib.sha256(b"tok").hexdigest(), 3),
    ]


def test_hash_definition_is_exactly_the_documented_one() -> None:
    files = _digests()
    lines = sorted(f"{f.name}\0{f.sha256}\n" for f in files)
    expected_dir = base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()
    assert dir_hash(files) == expected_dir
    expected = base64.b64encode(hashlib.sha256((expected_dir + HOTKEY_A).encode()).digest()).decode()
    assert model_hash(files, HOTKEY_A) == expected
    assert len(expected) == 44


def test_hash_stable_across_order_and_bound_to_hotkey() -> None:
    files = _digests()
    assert model_hash(files, HOTKEY_A) == model_hash(list(reversed(files)), HOTKEY_A)
    assert model_hash(files, HOTKEY_A) != model_hash(files, HOTKEY_B)
    changed = [*files[:2], FileDigest("tokenizer.json", hashlib.sha256(b"tok2").hexdigest(), 4)]
    assert model_hash(changed, HOTKEY_A) != model_hash(files, HOTKEY_A)
    renamed = [*files[:2], FileDigest("tokenizer2.json", files[2].sha256, 3)]
    assert model_hash(renamed, HOTKEY_A) != model_hash(files, HOTKEY_A)


def test_hash_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        FileDigest("config.json", "ABC", 1)
    with pytest.raises(FileNameError):
        FileDigest("../etc/passwd", "0" * 64, 1)
    with pytest.raises(FileNameError):
        dir_hash([FileDigest("a.json", "0" * 64, 1), FileDigest("a.json", "1" * 64, 1)])
    with pytest.raises(ValueError):
        dir_hash([])


def test_folder_hash_matches_metadata_hash(tmp_path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "config.json").write_bytes(b"{}")
    (tmp_path / "tokenizer.json").write_bytes(b"tok")
    (tmp_path / "README.md").write_text("not part of the model")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.json").write_text("{}")
    digests = digests_from_folder(tmp_path)
    assert [d.name for d in digests] == ["config.json", "model.safetensors", "tokenizer.json"]
    assert folder_model_hash(tmp_path, HOTKEY_A) == model_hash(_digests(), HOTKEY_A)


def test_selection_is_flat_and_pattern_based() -> None:
    names = ["a.safetensors", "config.json", "tokenizer.model", "x.bin", ".gitattributes", "d/e.json"]
    assert select_model_files(names) == ["a.safetensors", "config.json", "tokenizer.model"]
    with pytest.raises(FileNameError):
        select_model_files(["bad name.json"])


def test_hash_has_one_spelling_and_refusals_have_a_kind() -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = HASH[:42] + alphabet[alphabet.index(HASH[42]) ^ 1] + "="  # the same 32 bytes, unused bits set
    assert base64.b64decode(twin) == base64.b64decode(HASH)
    with pytest.raises(PointerError, match="canonical") as refused:
        parse_pointer(f"alice:model:{'0' * 40}:{twin}:c1")
    assert refused.value.kind == RefusalKind.BAD_POINTER
    assert parse_pointer(f"alice:model:{'0' * 40}:{HASH}:c1").hash == HASH
