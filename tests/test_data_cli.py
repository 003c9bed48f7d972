"""`python -m node.data`: sample, split and tokenize against a temp corpus and the stand-in API."""

from __future__ import annotations

import subprocess
import sys

from node.data.__main__ import main
from standins.data_helpers import byte_bpe, corpus_docs, write_corpus
from standins.fineweb_rows import FineWebRowsStandin


def test_sample_and_split_on_a_corpus(tmp_path, capsys) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", corpus_docs(80))
    assert main(["sample", "--seed", "3", "--count", "4", "--corpus", str(corpus)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# seed 3: 4 samples" and all("#" in line.split("\t")[0] for line in lines[1:])
    main(["sample", "--seed", "3", "--count", "4", "--corpus", str(corpus)])
    assert capsys.readouterr().out.splitlines() == lines  # same seed, same output
    assert main(["split", "--corpus", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "heldout" in out


def test_tokenize_and_fineweb(tmp_path, capsys) -> None:
    tok = byte_bpe(tmp_path / "tok")
    corpus = write_corpus(tmp_path / "c.jsonl", corpus_docs(40))
    args = ["tokenize", "--block-hash", "ab" * 32, "--count", "3", "--corpus", str(corpus), "--tokenizer", str(tok)]
    assert main([*args, "--cap", "100"]) == 0
    out = capsys.readouterr().out
    assert out.count("\tcapped ") == 3 and "'ok': 3" in out
    with FineWebRowsStandin() as api:
        cache = str(tmp_path / "s.sqlite")
        assert (
            main(
                [
                    "sample",
                    "--source",
                    "fineweb",
                    "--endpoint",
                    api.endpoint,
                    "--cache",
                    cache,
                    "--seed",
                    "1",
                    "--count",
                    "5",
                ]
            )
            == 0
        )
    assert "CC-MAIN" in capsys.readouterr().out


def test_module_entry_point_runs(tmp_path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", corpus_docs(30))
    done = subprocess.run(
        [sys.executable, "-m", "node.data", "sample", "--seed", "1", "--count", "2", "--corpus", str(corpus)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# seed 1: 2 samples")
