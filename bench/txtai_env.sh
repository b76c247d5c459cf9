#!/usr/bin/env bash
# The txtai side of bench/txtai_side_by_side.py runs in its own virtual environment,
# .venv-txtai at the repository root, so txtai never becomes a dependency of the project.
#
#     bash bench/txtai_env.sh          # creates or completes .venv-txtai; safe to re-run
#
# torch is installed first and pinned exactly: 2.13.0 is the CPU build this machine keeps on
# disk, and a looser spec would pull a several-GB CUDA build. transformers, tokenizers and
# faiss-cpu are pinned to the project's versions, so txtai reads the same model folder with the
# same tokenizer and model code and searches the same kind of FAISS index. Nothing else: the
# txtai side only indexes and ranks, and the driver scores both engines in the project's venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-txtai"
PYTHON="${PYTHON:-python3.11}"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet torch==2.13.0
"$VENV/bin/python" -m pip install --quiet \
    txtai==9.14.0 \
    transformers==5.24.0 \
    tokenizers==0.23.3 \
    faiss-cpu==1.15.1
"$VENV/bin/python" - <<'PY'
import torch, transformers
from txtai.version import __version__

print(f"txtai {__version__}, torch {torch.__version__}, transformers {transformers.__version__}")
PY
