"""The validator's per-model evaluation job; it lives in `node.evaluation.model_job`, shared with the miner.

Re-exported here so the validator's worker calls (pickled by reference as `validator.job.evaluate_model`
in older state) and imports keep working.
"""

from node.evaluation.model_job import JobResult, evaluate_model

__all__ = ["JobResult", "evaluate_model"]
