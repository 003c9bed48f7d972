"""Hostile model folders: file types, links, names, sizes, and JSON that is malformed or built to be slow."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from node.gate import ModelLimits, check_model_dir
from node.modeling import load_model_for_eval
from node.refusal import RefusalKind as K

from ..limits import GIB, MIB
from .build import WEIGHTS, copy_model, deep_json, edit_config, sparse_file, write_config_text
from .registry import case


def gate(path: Path, **limits):
    return lambda: check_model_dir(path, ModelLimits(**limits))


def load(path: Path):
    return lambda: load_model_for_eval(path)


# ---- file types and places ----

@case("files", K.UNSAFE_FILE)
def symlinked_weights(tmp):
    path = copy_model(tmp / "m")
    outside = tmp / "outside.safetensors"
    (path / WEIGHTS).rename(outside)
    (path / WEIGHTS).symlink_to(outside)
    return load(path)


@case("files", K.UNSAFE_FILE)
def symlinked_config(tmp):
    path = copy_model(tmp / "m")
    (tmp / "elsewhere.json").write_text((path / "config.json").read_text())
    (path / "config.json").unlink()
    (path / "config.json").symlink_to(tmp / "elsewhere.json")
    return load(path)


@case("files", K.UNSAFE_FILE)
def symlinked_tokenizer_to_etc(tmp):
    path = copy_model(tmp / "m")
    (path / "tokenizer.json").symlink_to("/etc/passwd")
    return gate(path)


@case("files", K.UNSAFE_FILE)
def fifo_config(tmp):
    path = copy_model(tmp / "m")
    (path / "config.json").unlink()
    os.mkfifo(path / "config.json")  # a plain open() would block forever
    return load(path)


@case("files", K.UNSAFE_FILE)
def fifo_weights(tmp):
    path = copy_model(tmp / "m")
    (path / WEIGHTS).unlink()
    os.mkfifo(path / WEIGHTS)
    return gate(path)


@case("files", K.UNSAFE_FILE)
def socket_in_folder(tmp):
    path = copy_model(tmp / "m")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path / "tokenizer.json"))
    server.close()
    return gate(path)


@case("files", K.UNSAFE_FILE)
def dangling_symlink(tmp):
    path = copy_model(tmp / "m")
    (path / "generation_config.json").unlink()
    (path / "generation_config.json").symlink_to(tmp / "missing.json")
    return gate(path)


@case("files", K.UNSAFE_FILE)
def folder_is_a_file(tmp):
    (tmp / "m").write_text("not a folder")
    return gate(tmp / "m")


@case("files", K.UNSAFE_FILE)
def folder_is_a_symlink(tmp):
    copy_model(tmp / "real")
    (tmp / "m").symlink_to(tmp / "real")
    return gate(tmp / "m")


@case("files", K.UNSAFE_FILE)
def unsafe_file_name(tmp):
    path = copy_model(tmp / "m")
    (path / "notes with spaces.json").write_text("{}")
    return gate(path)


@case("files", K.FORBIDDEN_FILE)
def pickled_weights_beside(tmp):
    path = copy_model(tmp / "m")
    (path / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    return load(path)


@case("files", K.FORBIDDEN_FILE)
def python_code_beside(tmp):
    path = copy_model(tmp / "m")
    (path / "modeling_evil.py").write_text("import os; os.system('id')")
    return gate(path)


@case("files", K.BAD_CONFIG)
def missing_folder(tmp):
    return gate(tmp / "does-not-exist")


@case("files", K.BAD_CONFIG)
def missing_config(tmp):
    path = copy_model(tmp / "m")
    (path / "config.json").unlink()
    return gate(path)


# ---- sizes ----

@case("sizes", K.FILE_TOO_LARGE)
def too_many_files(tmp):
    path = copy_model(tmp / "m")
    for number in range(300):
        (path / f"extra{number}.json").write_text("{}")
    return gate(path)


@case("sizes", K.FILE_TOO_LARGE)
def weights_file_over_limit(tmp):
    path = copy_model(tmp / "m")
    sparse_file(path / WEIGHTS, 65 * GIB)
    return gate(path)


@case("sizes", K.FILE_TOO_LARGE)
def folder_over_competition_bytes(tmp):
    return gate(copy_model(tmp / "m"), max_total_bytes=100_000)


@case("sizes", K.FILE_TOO_LARGE)
def tokenizer_over_limit(tmp):
    path = copy_model(tmp / "m")
    sparse_file(path / "tokenizer.json", 100 * MIB)
    return gate(path)


@case("sizes", K.FILE_TOO_LARGE)
def config_over_limit(tmp):
    path = copy_model(tmp / "m")
    config = json.loads((path / "config.json").read_text()) | {"padding": "x" * (2 * MIB)}
    return gate(write_config_text(path, json.dumps(config)))


@case("sizes", K.FILE_TOO_LARGE)
def index_of_50_mb(tmp):
    path = copy_model(tmp / "m")
    sparse_file(path / "model.safetensors.index.json", 50 * MIB)
    return gate(path)


# ---- JSON ----

@case("json", K.BAD_JSON)
def config_nested_100k_deep(tmp):
    return load(write_config_text(copy_model(tmp / "m"), '{"a": ' + deep_json(100_000) + "}"))


@case("json", K.BAD_JSON)
def config_5000_digit_integer(tmp):
    return load(write_config_text(copy_model(tmp / "m"), '{"vocab_size": ' + "9" * 5000 + "}"))


@case("json", K.BAD_JSON)
def config_nan_constant(tmp):
    path = copy_model(tmp / "m")
    return gate(write_config_text(path, (path / "config.json").read_text().replace('"rms_norm_eps": 1e-06',
                                                                                   '"rms_norm_eps": NaN')))


@case("json", K.BAD_JSON)
def config_overflowing_float(tmp):
    path = copy_model(tmp / "m")
    return gate(write_config_text(path, (path / "config.json").read_text().rstrip().rstrip("}") + ', "x": 1e999}'))


@case("json", K.BAD_JSON)
def config_duplicate_key(tmp):
    path = copy_model(tmp / "m")
    text = (path / "config.json").read_text()
    return gate(write_config_text(path, text[:-1].rstrip().rstrip("}") + ', "vocab_size": 9999999}'))


@case("json", K.BAD_JSON)
def config_not_utf8(tmp):
    return gate(write_config_text(copy_model(tmp / "m"), b'{"model_type": "\xff\xfe"}'))


@case("json", K.BAD_JSON)
def config_truncated(tmp):
    path = copy_model(tmp / "m")
    return gate(write_config_text(path, (path / "config.json").read_text()[:50]))


@case("json", K.BAD_CONFIG)
def config_is_a_list(tmp):
    return gate(write_config_text(copy_model(tmp / "m"), "[1, 2, 3]"))


@case("json", K.BAD_JSON)
def generation_config_nested(tmp):
    path = copy_model(tmp / "m")
    (path / "generation_config.json").write_text(deep_json(50_000))
    return gate(path)


@case("json", K.BAD_JSON)
def config_nested_just_over_the_limit(tmp):
    path = copy_model(tmp / "m")
    return gate(edit_config(path, extra=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]))
