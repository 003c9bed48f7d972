"""Why a model is refused: one stable reason kind per failure, shared by the checks and the validator's state.

A validator stores the kind of every refusal in its database, reports it in its status and metrics,
and two validators compare them, so the values below are protocol: add new kinds, never rename one.
Free text goes in the message, never in the kind.
"""

from __future__ import annotations

from enum import StrEnum


class RefusalKind(StrEnum):
    """Stable reason kinds (values are stored; never rename)."""

    # the chain pointer
    BAD_POINTER = "bad_pointer"  # the commitment string is not a valid pointer
    UNKNOWN_COMPETITION = "unknown_competition"  # the pointer names no live competition
    # the hub, before and during download
    REVISION_NOT_FOUND = "revision_not_found"  # the committed repo/revision does not exist (any more)
    HUB_UNAVAILABLE = "hub_unavailable"  # the hub could not be reached: transient, retried later
    TOO_LARGE = "too_large"  # the revision's files exceed the competition's byte limit
    HASH_MISMATCH = "hash_mismatch"  # the files do not hash to the committed, hotkey-bound hash
    INTEGRITY = "integrity"  # downloaded bytes differ from what the hub listed (truncated, tampered)
    DUPLICATE = "duplicate"  # the same files were committed earlier under another hotkey
    STORE_FULL = "store_full"  # no room on the validator's disk: transient, retried later
    # the model folder
    UNSAFE_FILE = "unsafe_file"  # symlink, FIFO, device, or a path leaving the folder
    FORBIDDEN_FILE = "forbidden_file"  # code, pickled weights, a tokenizer other than tokenizer.json
    FILE_TOO_LARGE = "file_too_large"  # one file, or the folder, over its size limit
    BAD_JSON = "bad_json"  # a JSON file that is malformed, too deep, too big or has absurd numbers
    REMOTE_CODE = "remote_code"  # auto_map or anything else asking to run the model's own code
    # the config
    ARCHITECTURE = "architecture"  # not exactly one of the competition's architecture class names
    BAD_CONFIG = "bad_config"  # a config field out of its allowed range or of the wrong type
    BAD_LAYER_MAP = "bad_layer_map"  # a layer_map / norm_divisor the patched classes do not accept
    TOO_MANY_PARAMETERS = "too_many_parameters"  # stored parameters over the competition's limit
    # the weights
    BAD_INDEX = "bad_index"  # a safetensors index that does not follow the schema
    BAD_SAFETENSORS = "bad_safetensors"  # a safetensors header that cannot be parsed or lies about offsets
    TENSOR_NAMES = "tensor_names"  # a tensor missing, extra, or a stored layer no position uses
    TENSOR_DTYPE = "tensor_dtype"  # a non-floating or disallowed dtype
    TENSOR_SHAPE = "tensor_shape"  # a shape other than the one the config implies
    OVER_MEMORY = "over_memory"  # a single tensor or the model exceeds the memory budget
    NON_FINITE = "non_finite"  # NaN or inf in the weights
    # the tokenizer
    BAD_TOKENIZER = "bad_tokenizer"  # unparsable, too large, missing special tokens, or crashing
    VOCAB = "vocab"  # the tokenizer emits ids the model's embedding does not have
    # evaluation
    EVAL_TIMEOUT = "eval_timeout"  # no result within the time limit
    EVAL_CRASH = "eval_crash"  # the evaluation process died (OOM killer, native fault)
    EVAL_ERROR = "eval_error"  # the evaluation raised
    NAN_LOSS = "nan_loss"  # the model produced NaN losses
    # the validator itself
    INTERNAL_ERROR = "internal_error"  # a bug or an outside failure while handling the model: never its fault

    @property
    def transient(self) -> bool:
        """True for failures of the validator's surroundings, not of the model: retried, never held against it."""
        return self in _TRANSIENT


_TRANSIENT = frozenset({RefusalKind.HUB_UNAVAILABLE, RefusalKind.STORE_FULL, RefusalKind.INTERNAL_ERROR})


class Refused(ValueError):
    """A model (or one of its files) refused, with its stable `kind` and a message naming the field, tensor or file."""

    def __init__(self, kind: RefusalKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = RefusalKind(kind)
        self.message = message

    def __reduce__(self):  # survive pickling across the evaluation process boundary
        return (type(self), (self.kind, self.message))
