#!/usr/bin/env bash
# `pip install ./python` into a fresh virtual environment (with the system's torch), then
# the README's lines: load a shipped model and answer a problem at several depths, from the
# run directory and from its safetensors file. Usage: pip_install.sh PYTHON SOURCE_DIR WORK
set -euo pipefail
python="$1" src="$2" work="$3"
rm -rf "$work" && mkdir -p "$work"
"$python" -m venv --system-site-packages "$work/venv"
# A PYTHON that is itself a virtual environment keeps its torch in its own site-packages,
# which --system-site-packages does not reach: point the new environment at it as well.
if ! "$work/venv/bin/python" -c 'import torch' 2>/dev/null; then
  "$python" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' \
    >"$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/parent-site.pth"
fi
# Offline: no index, the system's setuptools builds it, from a copy (pip writes build files
# beside the sources).
cp -r "$src/python" "$work/python"
"$work/venv/bin/pip" install -q --no-index --no-build-isolation --no-deps "$work/python"
cd "$work"  # away from the source tree: the import must come from the installed package
"$work/venv/bin/python" - "$src/models/stars-add4" <<'PY'
import sys
import stars_torch as st

assert "site-packages" in st.__file__, st.__file__
model = st.load(sys.argv[1])
tok = st.Tokenizer()
for depth in (4, 16, 64):
    out = st.answer(model, tok, ["1234+5678="], depth=depth, max_tokens=6)
    assert st.answer_text(out[0]) == "6912", (depth, out)
same = st.load(sys.argv[1] + "/model.safetensors")
assert all((a == b).all() for a, b in zip(model.state_dict().values(), same.state_dict().values()))
print("pip install ./python: stars-add4 answers 1234+5678=6912 at depths 4, 16 and 64")
PY
