"""transformers' own common model tests, taken from its pinned PyPI sdist, as an importable package.

Why this shape: the transformers 5.23.0 sdist ships `tests/test_modeling_common.py` (ModelTesterMixin,
~120 checks every model must pass) and `tests/test_configuration_common.py` (ConfigTester), but not
`tests/models/` (the Llama and Phi3 test files), `tests/causal_lm_tester.py`, nor the three modules
those two import relatively: `generation/test_utils.py`, `exporters/test_export.py` and
`utils/test_configuration_utils.py`. So the two shipped files are extracted (sha256-checked, never
committed) into a package `tfsuite` in a scratch folder, and the three missing imports are filled
with one-line re-exports of our own modules (`suite_generation`, `suite_shims`). The model test
classes (`suite_models.py`) are ours too, written from what transformers' Llama/Phi3 tests check.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import transformers

from node.assets.download import Downloader
from node.assets.layout import AssetLayout
from node.assets.sources import Archive, Member

VERSION = "5.23.0"
SDIST = Archive(
    "transformers",
    VERSION,
    f"transformers-{VERSION}.tar.gz",
    "19d647a4d5d903a7c644ca5cde2d86efc3dde7d8c687ae7988806ff2205efa71",
)
MEMBERS = {
    "test_modeling_common.py": "74b3013cddf122d41c97a25fa73f2c5cf5ba7e9494a5ee1a218e231b10d648bf",
    "test_configuration_common.py": "a8ac6455ff1bc085c147de71930a3bf57eb4e1ff880102ccaa627477b1f111e4",
}
PACKAGE = "tfsuite"
# The relative imports of the shipped files that the sdist does not ship, and what fills them.
FILLERS = {
    "exporters/test_export.py": "from suite_shims import ExportTesterMixin  # noqa: F401\n",
    "generation/test_utils.py": "from suite_generation import GenerationTesterMixin  # noqa: F401\n",
    "utils/test_configuration_utils.py": "from suite_shims import config_common_kwargs  # noqa: F401\n",
}


def members() -> list[Member]:
    return [Member(SDIST, f"transformers-{VERSION}/tests/{name}", digest) for name, digest in MEMBERS.items()]


def prepare_suite_package(scratch: Path, downloads: Path | None = None) -> Path:
    """Download (cached, sha256-checked) and lay out `<scratch>/tfsuite`; returns `scratch` for sys.path."""
    if transformers.__version__ != VERSION:
        raise RuntimeError(f"the suite is pinned to transformers {VERSION}, installed is {transformers.__version__}")
    downloader = Downloader(downloads or AssetLayout.default().downloads, progress=False)
    package = scratch / PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""transformers 5.23.0 sdist tests (extracted at run time)."""\n')
    for member, path in zip(members(), downloader.fetch(members()), strict=True):
        shutil.copyfile(path, package / member.name)
    for relative, text in FILLERS.items():
        target = package / relative
        target.parent.mkdir(exist_ok=True)
        (target.parent / "__init__.py").touch()
        target.write_text(text)
    return scratch


def install(scratch: Path) -> None:
    """Make `import tfsuite...` work in this process."""
    root = str(prepare_suite_package(scratch))
    if root not in sys.path:
        sys.path.insert(0, root)
