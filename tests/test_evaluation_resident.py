"""Resident models in a long-lived evaluation process: same losses, one load, and changed files reload."""

from __future__ import annotations

import os

from node.evaluation import EvalSettings, evaluate_checkpoint, resident
from tiny_models import tiny_model

SAMPLES = [[5, 9, 11, 40, 3], [7, 8, 9, 10]]


def test_a_resident_model_gives_the_same_losses_without_loading_again(tmp_path):
    tiny_model("llama").save_pretrained(tmp_path)
    resident.clear()
    keep = EvalSettings(resident_bytes=1 << 30)
    before = resident.loads
    first = evaluate_checkpoint(tmp_path, SAMPLES, keep)
    second = evaluate_checkpoint(tmp_path, SAMPLES, keep)
    assert first.losses == second.losses and resident.loads == before + 1
    weights = tmp_path / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # the files changed: a new key
    assert evaluate_checkpoint(tmp_path, SAMPLES, keep).losses == first.losses and resident.loads == before + 2
    resident.clear()
    evaluate_checkpoint(tmp_path, SAMPLES, EvalSettings())  # off by default: loaded every time, never kept
    evaluate_checkpoint(tmp_path, SAMPLES, EvalSettings())
    assert resident.loads == before + 4
    tiny = EvalSettings(resident_bytes=10)  # a cap smaller than the model keeps nothing either
    evaluate_checkpoint(tmp_path, SAMPLES, tiny)
    evaluate_checkpoint(tmp_path, SAMPLES, tiny)
    assert resident.loads == before + 6


def test_a_model_whose_folder_was_evicted_is_dropped(tmp_path):
    """The store evicting a folder frees its disk space only once the resident model (which maps the files) goes."""
    resident.clear()
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    for folder in (kept, gone):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x" * 10)
    keys = [resident.folder_key(folder) for folder in (kept, gone)]
    for key in keys:
        resident.get_or_load(key, 10, 100, object)
    (gone / "model.safetensors").unlink()
    gone.rmdir()
    assert resident.drop_stale() == 1
    assert list(resident._models) == [keys[0]]
    (kept / "model.safetensors").write_bytes(b"y" * 11)  # replaced under the same folder: stale too
    loaded = resident.loads
    resident.get_or_load(resident.folder_key(kept), 11, 100, object)
    assert resident.loads == loaded + 1 and len(resident._models) == 1
    resident.clear()
