"""node.competitions: strict parsing of the competitions document, the bundled default, the Competition API."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from node.competitions import (
    SCHEMA,
    Competition,
    Competitions,
    CompetitionsError,
    bundled_competitions,
    parse_competitions,
    parse_competitions_bytes,
)
from node.data import TokenizerError
from node.scoring import BonusEntry

ENTRY = {
    "reward": 1,
    "model_types": ["LlamaForCausalLM"],
    "model_size": 1000,
    "parameters": 100,
    "dataset": "corpus",
    "tokenizer": "gpt2",
}


def doc(**entries: dict) -> dict:
    return {name: {**ENTRY, **fields} for name, fields in (entries or {"c": {}}).items()}


def test_defaults_and_comments() -> None:
    document = {
        "_comment": "ignored",
        "default": {"_why": "ignored too", "pool_size": 4, "dataset": "fineweb"},
        "b": {**ENTRY, "_note": 1, "pool_size": 9},
        "a": {k: v for k, v in ENTRY.items() if k != "dataset"},
    }
    parsed = parse_competitions(document)
    assert parsed.ids == ("a", "b")  # sorted by id
    a, b = parsed.get("a"), parsed.get("b")
    assert a.pool_size == 4 and a.dataset == "fineweb"  # from default
    assert b.pool_size == 9 and b.dataset == "corpus"  # the entry's own keys win
    assert a.reward == 1.0 and isinstance(a.reward, float)
    assert a.model_types == ("LlamaForCausalLM",)
    assert (a.max_sequence_len, a.cap_sample_len, a.group_samples, a.pend_size) == (4096, None, 1, 3)
    assert (a.advantage_initial, a.advantage_decay, a.weight_skew_factor) == (0.004, 0.995, 1.0)
    assert (a.discard_winrate, a.eval_dtype, a.add_bos, a.free_tokenizer) == (0.0, "auto", False, False)
    assert parsed.get("zzz") is None and "a" in parsed and "zzz" not in parsed and len(parsed) == 2
    assert parsed.hall_of_fame.entries == () and parsed.hall_of_fame.max_share == 0.1


def test_integral_floats_are_integers() -> None:
    parsed = parse_competitions(doc(c={"model_size": 2.5e9, "parameters": 1e6}))
    comp = parsed.get("c")
    assert comp.model_size == 2_500_000_000 and isinstance(comp.model_size, int)
    assert comp.parameters == 1_000_000


def test_sha256_covers_the_effective_rules_only() -> None:
    base = parse_competitions(doc())
    reformatted = parse_competitions_bytes(json.dumps(doc(), indent=4).encode())
    commented = parse_competitions({"_c": "x", **doc(c={"_note": "y"})})
    explicit = parse_competitions(doc(c={"pool_size": 7}))  # the default, written out
    via_default = parse_competitions({"default": {"pool_size": 7}, **doc()})
    assert base.sha256 == reformatted.sha256 == commented.sha256 == explicit.sha256 == via_default.sha256
    assert len(base.sha256) == 64
    assert parse_competitions(doc(c={"pool_size": 8})).sha256 != base.sha256
    assert parse_competitions({**doc(), "hall_of_fame": {"max_share": 0.2}}).sha256 != base.sha256
    assert json.loads(base.canonical_json())["competitions"]["c"]["pool_size"] == 7


BAD_VALUES = [
    ("reward", 0),
    ("reward", -1),
    ("reward", "1"),
    ("reward", True),
    ("model_types", "LlamaForCausalLM"),
    ("model_types", []),
    ("model_types", ["LlamaForCausalLM", "LlamaForCausalLM"]),
    ("model_types", ["Llama For CausalLM"]),
    ("model_types", [3]),
    ("model_size", 0),
    ("model_size", 1.5),
    ("model_size", "1000"),
    ("model_size", 10**14),
    ("parameters", -5),
    ("parameters", True),
    ("dataset", "wikipedia"),
    ("dataset", 1),
    ("tokenizer", 5),
    ("tokenizer", ""),
    ("tokenizer", "a\nb"),
    ("free_tokenizer", "yes"),
    ("free_tokenizer", 1),
    ("max_sequence_len", 1),
    ("max_sequence_len", 4096.5),
    ("cap_sample_len", 0),
    ("cap_sample_len", "2000"),
    ("group_samples", 0),
    ("pool_size", 0),
    ("pend_size", -1),
    ("advantage_initial", 1.0),
    ("advantage_initial", -0.1),
    ("advantage_initial", math.nan),
    ("advantage_decay", 0),
    ("advantage_decay", 1.01),
    ("weight_skew_factor", 0),
    ("weight_skew_factor", math.inf),
    ("discard_winrate", 1.5),
    ("eval_dtype", "float16"),
    ("add_bos", None),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_value_rejects_the_document_naming_competition_and_key(key, value) -> None:
    document = doc(good={}, bad={key: value})
    with pytest.raises(CompetitionsError) as info:
        parse_competitions(document)
    assert "'bad'" in str(info.value) and repr(key) in str(info.value)


def test_every_schema_key_has_a_bad_value_case() -> None:
    assert {key for key, _ in BAD_VALUES} == set(SCHEMA)


@pytest.mark.parametrize("key", ["reward", "model_types", "model_size", "parameters", "dataset"])
def test_missing_required_key(key) -> None:
    entry = {k: v for k, v in ENTRY.items() if k != key}
    with pytest.raises(CompetitionsError, match=f"competition 'c': missing required key '{key}'"):
        parse_competitions({"c": entry})


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "must be a JSON object"),
        ({}, "no competition"),
        ({"_only": "comments", "default": dict(ENTRY)}, "no competition"),
        ({"c": []}, "competition 'c' must be a JSON object"),
        ({"c": {**ENTRY, "colour": "red"}}, "competition 'c': unknown key 'colour'"),
        ({"c": {**ENTRY, "id": "x"}}, "unknown key 'id'"),
        ({"default": {"colour": "red"}, **doc()}, "'default': unknown key 'colour'"),
        ({"default": [], **doc()}, "'default' must be a JSON object"),
        ({"bad id": ENTRY}, "competition id"),
        ({"x" * 33: ENTRY}, "competition id"),
        ({"c": {**ENTRY, "tokenizer": None}}, "free_tokenizer"),
        ({"hall_of_fame": [], **doc()}, "hall_of_fame must be a JSON object"),
        ({"hall_of_fame": {"max_share": 2}, **doc()}, "max_share"),
        ({"hall_of_fame": {"prize": 2}, **doc()}, "unknown key 'prize'"),
        ({"hall_of_fame": {"entries": {}}, **doc()}, "entries"),
        ({"hall_of_fame": {"entries": [{"hotkey": "a", "weight": 0.1}]}, **doc()}, "entry 0: missing required key"),
        ({"hall_of_fame": {"entries": [{"hotkey": "a", "weight": 2, "block": 1}]}, **doc()}, "entry 0 key 'weight'"),
        ({"hall_of_fame": {"entries": [{"hotkey": "a b", "weight": 0.1, "block": 1}]}, **doc()}, "'hotkey'"),
        ({"hall_of_fame": {"entries": [{"hotkey": "a", "weight": 0.1, "block": 1, "x": 1}]}, **doc()}, "'x'"),
        ({"hall_of_fame": {"entries": [{"hotkey": "a", "weight": 0.1, "block": -1}]}, **doc()}, "'block'"),
    ],
)
def test_document_errors(document, fragment) -> None:
    with pytest.raises(CompetitionsError, match=fragment):
        parse_competitions(copy.deepcopy(document))


def test_too_many_competitions() -> None:
    with pytest.raises(CompetitionsError, match="limit is 64"):
        parse_competitions({f"c{i}": ENTRY for i in range(65)})


def test_hall_of_fame_entries() -> None:
    document = {
        "hall_of_fame": {
            "_about": "contributors",
            "max_share": 0.2,
            "entries": [
                {"hotkey": "5Fabc", "weight": 0.05, "block": 100, "_why": "seed model"},
                {"hotkey": "5Fdef", "weight": 1, "block": 0, "decay": 0.5, "desc": "growth operator"},
            ],
        },
        **doc(),
    }
    hof = parse_competitions(document).hall_of_fame
    assert hof.max_share == 0.2
    assert hof.entries == (
        BonusEntry("5Fabc", 0.05, 100),
        BonusEntry("5Fdef", 1.0, 0, 0.5, "growth operator"),
    )
    bonus = hof.bonus(100)
    assert math.isclose(sum(bonus.values()), 0.2)  # 0.05 + 1 * 0.5 ** (100 / 361), capped to 0.2
    assert set(bonus) == {"5Fabc", "5Fdef"}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"c": 1, "c": 2}', "duplicate key 'c'"),
        (b'{"c": {"reward": NaN}}', "NaN is not valid"),
        (b'{"c": {"reward": Infinity}}', "Infinity is not valid"),
        (b'{"c": {"model_size": 1' + b"0" * 5000 + b"}}", "not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "nests deeper"),
        (json.dumps({"c": {**ENTRY, "_x": [[[[[[1]]]]]]}}).encode(), "nests deeper"),
        (b" " * (1024 * 1024 + 1), "limit is 1048576"),
    ],
)
def test_bytes_errors(data, fragment) -> None:
    with pytest.raises(CompetitionsError, match=fragment):
        parse_competitions_bytes(data)


def test_bytes_valid() -> None:
    parsed = parse_competitions_bytes(json.dumps(doc()).encode())
    assert parsed == parse_competitions(doc())


def test_competition_direct_construction_is_validated() -> None:
    fields = {k: v for k, v in ENTRY.items()}
    fields["model_types"] = ("LlamaForCausalLM",)
    comp = Competition(id="c", **fields)
    assert comp == parse_competitions(doc()).get("c")
    with pytest.raises(CompetitionsError, match="'pool_size'"):
        Competition(id="c", **{**fields, "pool_size": 0})
    for bad_id in ("default", "hall_of_fame", "", "a:b"):
        with pytest.raises(CompetitionsError, match="competition id"):
            Competition(id=bad_id, **fields)
    with pytest.raises(CompetitionsError, match="1-64"):
        Competitions({})
    with pytest.raises(CompetitionsError, match="not a Competition"):
        Competitions({"other": comp})


def test_architecture_match_is_exact() -> None:
    comp = parse_competitions(doc(c={"model_types": ["LlamaForCausalLM", "SlicedLlamaForCausalLM"]})).get("c")
    assert comp.allows_architecture("LlamaForCausalLM")
    assert comp.allows_architecture("SlicedLlamaForCausalLM")
    for name in ("MyLlamaForCausalLM", "LlamaForCausalLMX", "llamaforcausallm", "Llama", ""):
        assert not comp.allows_architecture(name)


def test_eval_dtype_for() -> None:
    auto = parse_competitions(doc()).get("c")
    assert auto.eval_dtype_for("cuda") == auto.eval_dtype_for("cuda:1") == "bfloat16"
    assert auto.eval_dtype_for("cpu") == "float32"
    fixed = parse_competitions(doc(c={"eval_dtype": "float32"})).get("c")
    assert fixed.eval_dtype_for("cuda:0") == "float32"
    assert parse_competitions(doc(c={"eval_dtype": "bfloat16"})).get("c").eval_dtype_for("cpu") == "bfloat16"


def _write_tokenizer(folder: Path) -> Path:
    vocab = {"[UNK]": 0, "<|endoftext|>": 1, "hello": 2, "world": 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return folder


def test_tokenizer_policy(tmp_path) -> None:
    comp = parse_competitions(doc(c={"tokenizer": None, "free_tokenizer": True, "cap_sample_len": 2000})).get("c")
    policy = comp.tokenizer_policy()
    assert (policy.tokenizer, policy.free_tokenizer, policy.cap_sample_len, policy.max_sequence_len) == (
        None,
        True,
        2000,
        4096,
    )
    loaded = policy.load(_write_tokenizer(tmp_path / "model"))
    assert loaded.origin == "model" and loaded.eos_id == 1
    with pytest.raises(TokenizerError, match="ships none"):
        policy.load(tmp_path / "empty")
    named = parse_competitions(doc(c={"tokenizer": str(_write_tokenizer(tmp_path / "named"))})).get("c")
    assert named.tokenizer_policy().load(tmp_path / "model").origin == "competition"  # not free: the named one


def test_bundled_document() -> None:
    bundled = bundled_competitions()
    assert bundled is bundled_competitions()
    assert bundled.ids == ("llama", "phi3")
    llama, phi3 = bundled.get("llama"), bundled.get("phi3")
    assert llama.model_types == ("LlamaForCausalLM", "SlicedLlamaForCausalLM")
    assert phi3.model_types == ("Phi3ForCausalLM", "SlicedPhi3ForCausalLM")
    assert not llama.allows_architecture("Phi3ForCausalLM") and not phi3.allows_architecture("LlamaForCausalLM")
    for comp in (llama, phi3):
        assert comp.reward == 0.5 and comp.dataset == "corpus" and comp.cap_sample_len == 2000
        assert comp.free_tokenizer and comp.tokenizer is None
        smollm2_params = 134_515_008
        assert comp.parameters >= 4 * smollm2_params  # grown up to ~4x
        assert comp.model_size >= 4 * 4 * smollm2_params  # ... and stored in fp32
        assert comp.model_size >= 4 * comp.parameters  # a model at the parameter limit fits in fp32
    raw = (Path(__file__).parents[1] / "node" / "competitions_default.json").read_bytes()
    assert parse_competitions_bytes(raw) == bundled


def test_documents_are_hashable_by_their_canonical_hash() -> None:
    one, two = parse_competitions(doc()), parse_competitions_bytes(json.dumps(doc(), indent=2).encode())
    assert len({one, two, bundled_competitions()}) == 2


def test_cli(tmp_path, capsys) -> None:
    from node.competitions.__main__ import main

    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"sha256 {bundled_competitions().sha256}"
    assert out[1].startswith("llama\treward 0.5\tLlamaForCausalLM,SlicedLlamaForCausalLM\t800,000,000 params")
    assert out[3] == "hall_of_fame\t0 entries\tmax share 0.1"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(doc(c={"pool_size": 0})))
    assert main([str(path)]) == 1
    assert "competition 'c' key 'pool_size'" in capsys.readouterr().err
    path.write_text(json.dumps(doc()))
    assert main([str(path), "--json"]) == 0
    assert capsys.readouterr().out.strip() == parse_competitions(doc()).canonical_json()
