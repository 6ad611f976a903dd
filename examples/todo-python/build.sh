#!/usr/bin/env bash
# Builds todo_python.wasm from app.py with componentize-py (PyPI, pinned in
# requirements.txt, installed into ./.venv on first use) and its default
# options. Then: cp todo_python.wasm <project>/.brum/plugins/
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/componentize-py ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
fi
.venv/bin/componentize-py --wit-path ../../wit --world plugin componentize app --output todo_python.wasm
