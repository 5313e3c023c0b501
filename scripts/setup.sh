#!/usr/bin/env bash
# Create .venv and install the project with its test tools. PyTorch's CPU build is installed first, pinned,
# so that nothing pulls the multi-gigabyte CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -qq --upgrade pip
if ! .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  echo "installing PyTorch 2.13.0 (CPU)…"
  .venv/bin/python -m pip install -qq "torch==2.13.0"
fi
echo "installing fine_tuning_assets and its dependencies…"
.venv/bin/python -m pip install -qq -e ".[dev]"
echo "ready: .venv"
