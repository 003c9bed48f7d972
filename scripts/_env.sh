# Sourced by scripts/quickstart and scripts/test: make .venv, install the pinned set once.
# Re-installs only when pyproject.toml or constraints.txt changed (stamp holds their hash).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating virtual environment in .venv"
    "$PY" -m venv .venv
fi
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
have="$(cat .venv/.sn29-stamp 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    echo "==> installing pinned dependencies (constraints.txt); first time takes a few minutes"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
    echo "$want" > .venv/.sn29-stamp
fi
export PATH="$ROOT/.venv/bin:$PATH"
