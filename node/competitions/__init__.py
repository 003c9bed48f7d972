"""Competitions: the rules every validator and miner must agree on, as one strictly checked JSON document.

Schema (the SN29 reference validator's, validated strictly):

* The document is a JSON object (at most 1 MiB, nesting at most 6 levels, no duplicate keys, no
  NaN/Infinity). Keys starting with `_` are comments, ignored at every level. `default` is an
  object merged into every competition (an entry's own keys win). `hall_of_fame` is the bonus
  block below. Every other key is a competition id: 1-32 ASCII letters, digits, `_` or `-` (the
  on-chain pointer's competition field).
* Per competition, required: `reward` (share of the weight, > 0; shares are renormalised over the
  competitions that have results), `model_types` (architecture class names, matched exactly: the
  reference's substring match let `MyLlamaForCausalLM` through), `model_size` (max bytes of the
  revision on the hub), `parameters` (max stored parameter count), `dataset` (`corpus`: the
  offline held-out corpus; `fineweb`: FineWeb-Edu rows).
* Optional, with defaults: `tokenizer` (null; an offline asset name, a Hub alias from
  `node.data.tokenizer_files.TOKENIZER_ALIASES`, or a path), `free_tokenizer` (false: true scores
  a model with its own `tokenizer.json`, the named one being the fallback), `max_sequence_len`
  (4096 ids), `cap_sample_len` (null, characters), `group_samples` (1), `pool_size` (7),
  `pend_size` (3), `advantage_initial` (0.004), `advantage_decay` (0.995 per epoch of 361
  blocks), `weight_skew_factor` (1.0; the reference used 1.2), `discard_winrate` (0.0 = never
  discard; the reference used 0.02, but on a small network a few noisy rounds should not drop a
  model for good), `eval_dtype` (`auto` = bfloat16 on CUDA, float32 on CPU; or `float32` /
  `bfloat16`), `add_bos` (false).
  A competition with `tokenizer` null must set `free_tokenizer`.
* Any unknown key, wrong type or out-of-range value rejects the **whole** document with a
  `CompetitionsError` naming the competition and key; a source then keeps the previous one.
* `hall_of_fame`: `{"max_share": 0.1, "entries": [{"hotkey", "weight", "block", "decay"?,
  "desc"?}]}`; semantics in `node.scoring.bonus`. It lives inside this document (not in a second
  one as in the reference) so one fetch, one validity verdict and one hash cover all the rules.
* `Competitions.sha256` hashes the canonical effective document (comments dropped, defaults merged,
  every field explicit, sorted compact JSON): two validators with the same rules have the same hash
  however their files are formatted.

The bundled document (`bundled_competitions()`, file `node/competitions_default.json`) defines
`llama` (`LlamaForCausalLM`, `SlicedLlamaForCausalLM`) and `phi3` (`Phi3ForCausalLM`,
`SlicedPhi3ForCausalLM`), 0.5 of the reward each, on the offline corpus with samples capped at
2,000 characters. Limits: 800M parameters and 3.4 GB, sized for the devnet's models (SmolLM2-135M:
134.5M parameters, 269 MB in bf16, 538 MB in fp32, grown up to ~4x = 538M, with room for an untied
head) and far above the tiny test models. Tokenizer: `free_tokenizer: true` with `tokenizer: null`.
The devnet's checkpoints ship SmolLM2's own `tokenizer.json` (49,152 tokens); none of the offline
tokenizer assets fits them (cl100k and GPT-2 emit ids beyond 49,152, Phi-3's ids would fit but
mean different tokens), so a named fallback could only fail later or score nonsense; with no
fallback, a model that ships no tokenizer is refused up front with a clear tokenizer error.
Scores stay comparable across tokenizers because a sample's score is its total loss in nats over
the text, not a per-token mean (up to the first token, which is never scored: a tokenizer with
long tokens gains that one token's worth; `add_bos` closes the gap where the tokenizer has a BOS).
"""

from node.competitions.fields import CompetitionsError
from node.competitions.schema import (
    COMPETITION_ID,
    DATASETS,
    EVAL_DTYPES,
    MAX_DOCUMENT_BYTES,
    SCHEMA,
    Competition,
    Competitions,
    HallOfFame,
    bundled_competitions,
    parse_competitions,
    parse_competitions_bytes,
)
from node.competitions.source import CompetitionsSource, fetch_bytes

__all__ = [
    "COMPETITION_ID",
    "DATASETS",
    "EVAL_DTYPES",
    "MAX_DOCUMENT_BYTES",
    "SCHEMA",
    "Competition",
    "Competitions",
    "CompetitionsError",
    "CompetitionsSource",
    "HallOfFame",
    "bundled_competitions",
    "fetch_bytes",
    "parse_competitions",
    "parse_competitions_bytes",
]
