#!/usr/bin/env bash
# npm run notebooks: executes every notebook headlessly with Jupyter + tslab; any cell error fails.
# BNN_PRESET=smoke (CI) keeps training to seconds. Outputs go to runs/notebooks/ unless --inplace,
# which refreshes the committed notebooks' outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
# Debian's Jupyter; the first python3 on PATH may be another Python without it.
PY=${BNN_JUPYTER_PYTHON:-/usr/bin/python3}
"$PY" -c 'import nbconvert, nbclient' 2>/dev/null || {
  echo "Jupyter not found for $PY: apt-get install jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel (or set BNN_JUPYTER_PYTHON)" >&2
  exit 1
}
# tslab compiles only TypeScript under the notebook's folder: notebooks load lib/ compiled to dist/.
npm run --silent build
"$PY" -m jupyter kernelspec list 2>/dev/null | grep -qE '^\s+tslab\s' || tslab install --python="$PY"
mode=(--output-dir "${BNN_NOTEBOOK_OUT:-runs/notebooks}")
[[ "${1:-}" == "--inplace" ]] && mode=(--inplace)
for nb in notebooks/[0-9]*.ipynb; do
  echo "== $nb (preset: ${BNN_PRESET:-default})"
  start=$SECONDS
  "$PY" -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 \
    --ExecutePreprocessor.kernel_name=tslab "${mode[@]}" "$nb"
  echo "   ok in $((SECONDS - start)) s"
done
