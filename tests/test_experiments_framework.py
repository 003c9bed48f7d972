"""The shared experiment framework: settings parsing (strict keys, types), result files, README sections,
and the lab's learning-rate schedules and data offset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from miner.experiments import lab
from miner.experiments.results import ExperimentResult, markdown_table, rows_csv, update_readme, write_result
from miner.experiments.settings import config_dict, config_from_mapping, load_config, parse_sets


@dataclass(frozen=True)
class Toy:
    steps: int = 3
    lr: float = 0.1
    name: str = "a"
    flag: bool = False
    seeds: tuple[int, ...] = (0, 1)


def test_sets_and_types():
    assert parse_sets(["steps=5", "seeds=[2,3]", "name=b c", "lr=0.5"]) == {
        "steps": 5, "seeds": [2, 3], "name": "b c", "lr": 0.5}
    assert config_from_mapping(Toy, parse_sets(["lr=1e-3"])).lr == 1e-3  # YAML 1.1 reads 1e-3 as text
    config = config_from_mapping(Toy, {"steps": 5, "lr": 1, "seeds": [4], "flag": True})
    assert config == Toy(5, 1.0, "a", True, (4,)) and isinstance(config.lr, float)
    assert config_from_mapping(Toy, {"seeds": 7}).seeds == (7,)  # a scalar becomes a one-item tuple
    assert config_dict(config)["seeds"] == [4]
    with pytest.raises(ValueError, match="bad --set"):
        parse_sets(["steps"])
    with pytest.raises(ValueError, match=r"unknown Toy setting\(s\) \['stpes'\]"):
        config_from_mapping(Toy, {"stpes": 1})
    for key, value, message in (("steps", 1.5, "integer"), ("steps", True, "integer"), ("flag", 1, "true or false"),
                                ("lr", "x", "number"), ("name", 3, "string"), ("seeds", ["a"], "integer")):
        with pytest.raises(ValueError, match=message):
            config_from_mapping(Toy, {key: value})


def test_file_then_sets(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text("steps: 9\nname: file\n")
    assert load_config(Toy, path, ["name=cli"]) == Toy(steps=9, name="cli")
    assert load_config(Toy, None) == Toy()


def test_result_files_and_readme_section(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    result = ExperimentResult([{"a": 1, "b": 0.5}, {"a": 2, "c": "x"}], "## numbers\nsome text",
                              {"loss": 1.234567, "verdict": "no resolvable difference"}, {"plot": fig})
    assert result.headline_line() == "loss=1.235 verdict=no_resolvable_difference"
    assert rows_csv(result.rows) == "a,b,c\n1,0.5,\n2,,x\n"
    assert markdown_table([{"k": "two words", "v": 0.123456}]) == "| k | v |\n|---|---|\n| two words | 0.1235 |\n"
    out = tmp_path / "run"
    written = write_result(result, out, "toy", {"steps": 3})
    assert sorted(p.name for p in written) == ["config.yaml", "plot.png", "results.csv", "summary.md"]
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"
    readme = tmp_path / "README.md"
    readme.write_text("# R\n\n<!-- experiment:toy -->\nold\n<!-- /experiment:toy -->\n\n"
                      "<!-- experiment:other -->\nkeep me\n<!-- /experiment:other -->\n")
    update_readme("toy", result, out, readme, tmp_path / "results")
    text = readme.read_text()
    assert "old" not in text and "keep me" in text and "some text" in text
    assert "![toy plot](results/toy-plot.png)" in text and "`loss=1.235 verdict=no_resolvable_difference`" in text
    update_readme("toy", result, out, readme, tmp_path / "results")  # rerun: the section is replaced, not added
    assert readme.read_text() == text
    update_readme("new", result, out, readme, tmp_path / "results")  # a new experiment: appended
    assert readme.read_text().startswith(text.rstrip()) and "<!-- /experiment:new -->" in readme.read_text()


def test_schedules():
    cosine = lab.TrainSpec(steps=20, warmup_steps=4)
    constant = lab.TrainSpec(steps=20, warmup_steps=4, schedule="constant")
    assert [lab.cosine_lr(s, constant) for s in range(4)] == [lab.cosine_lr(s, cosine) for s in range(4)]
    assert [lab.cosine_lr(s, constant) for s in (4, 10, 19, 40)] == [1.0] * 4
    assert lab.cosine_lr(20, cosine) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="schedule"):
        lab.TrainSpec(schedule="linear")


class RecordingData(lab.TextData):
    """Synthetic text; records which (seed, step) windows training draws."""

    def batch(self, seed, step, batch_size, seq_len):
        self.drawn.append((seed, step))
        return super().batch(seed, step, batch_size, seq_len)


def test_data_step_offset_continues_the_stream():
    rng = np.random.default_rng(0)
    data = RecordingData(rng.integers(0, 32, 4000).astype(np.int32), [tuple(range(10))], 32)
    data.drawn = []
    model = lab.tiny_llama(lab.ModelShape(hidden=16, layers=1, heads=2, kv_heads=2, intermediate=32), 32, seed=0)
    spec = lab.TrainSpec(steps=3, batch_size=2, seq_len=8, warmup_steps=1, eval_every=3)
    curve = lab.train(model, data, spec, seed=5, data_step_offset=7, start_tokens=100, start_flops=1.0)
    assert data.drawn == [(5, 7), (5, 8), (5, 9)]
    assert curve.tokens == [100, 100 + 3 * 16]
    assert curve.flops == [1.0, 1.0 + lab.train_flops(model, 3 * 16)]
