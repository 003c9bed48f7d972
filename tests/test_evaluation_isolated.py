"""The isolated evaluation process: results, and a specific reason for every way it can fail."""

from __future__ import annotations

import os
import time

import torch

from node.evaluation import EvalSettings, evaluate_checkpoint, evaluate_isolated, sample_losses
from node.refusal import RefusalKind
from tiny_models import tiny_model

SAMPLES = [[5, 9, 11, 40, 3], [7, 8, 9], [1]]


def crash_worker(checkpoint_dir, samples, settings):
    os._exit(3)


def hang_worker(checkpoint_dir, samples, settings):
    time.sleep(600)


def raising_worker(checkpoint_dir, samples, settings):
    raise MemoryError("pretend the model did not fit")


def test_isolated_result_equals_in_process(tmp_path):
    model = tiny_model("llama")
    model.save_pretrained(tmp_path)
    outcome = evaluate_isolated(tmp_path, SAMPLES, EvalSettings(), timeout_s=120)
    assert outcome.ok and outcome.report.num_slices == 1
    assert outcome.report.losses == sample_losses(model, SAMPLES)


def test_memory_budget_selects_sliced_path_with_same_losses(tmp_path):
    model = tiny_model("phi3")
    model.save_pretrained(tmp_path)
    full = evaluate_checkpoint(tmp_path, SAMPLES, EvalSettings())
    sliced = evaluate_checkpoint(tmp_path, SAMPLES, EvalSettings(memory_budget_bytes=full.model_bytes // 3))
    assert full.num_slices == 1 and sliced.num_slices == 3
    assert sliced.losses == full.losses


def test_nan_model_fails_with_reason(tmp_path):
    model = tiny_model("llama")
    with torch.no_grad():
        model.model.layers[1].mlp.down_proj.weight.fill_(float("nan"))
    model.save_pretrained(tmp_path)
    outcome = evaluate_isolated(tmp_path, SAMPLES, EvalSettings(), timeout_s=120)
    assert not outcome.ok and "NaN loss on 2 of 3 samples" in outcome.failure
    assert outcome.kind == RefusalKind.NAN_LOSS


def test_crash_timeout_and_exception_are_reported(tmp_path):
    crashed = evaluate_isolated(tmp_path, SAMPLES, EvalSettings(), timeout_s=60, worker=crash_worker)
    assert crashed.failure == "evaluation process exited with code 3 without a result"
    assert crashed.kind == RefusalKind.EVAL_CRASH
    started = time.monotonic()
    hung = evaluate_isolated(tmp_path, SAMPLES, EvalSettings(), timeout_s=3, worker=hang_worker)
    assert hung.failure == "timeout: no result within 3 s" and time.monotonic() - started < 30
    assert hung.kind == RefusalKind.EVAL_TIMEOUT
    raised = evaluate_isolated(tmp_path, SAMPLES, EvalSettings(), timeout_s=60, worker=raising_worker)
    assert raised.failure == "evaluation failed: MemoryError: pretend the model did not fit"
    assert raised.kind == RefusalKind.EVAL_ERROR


def test_broken_checkpoint_is_a_failure_not_a_crash(tmp_path):
    outcome = evaluate_isolated(tmp_path / "missing", SAMPLES, EvalSettings(), timeout_s=60)
    assert not outcome.ok and "no config.json" in outcome.failure
    assert outcome.kind == RefusalKind.BAD_CONFIG  # a refusal inside the process keeps its kind
