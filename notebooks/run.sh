#!/usr/bin/env bash
# npm run notebooks [-- [--inplace] [NOTEBOOK...]]: executes the notebooks (all, or those named) headlessly with
# Jupyter + tslab; any cell error fails. BNN_PRESET=smoke (CI) keeps training to seconds. Outputs go to
# runs/notebooks/ (or $BNN_NOTEBOOK_OUT) unless --inplace, which refreshes the committed notebooks' outputs.
#
# The committed outputs come from (rerun with these to refresh them):
#   01  no training: any preset                BNN_PRESET=smoke notebooks/run.sh --inplace notebooks/01-*.ipynb
#   02  MNIST `quick` (≈ 12 min, 2 cores)      BNN_PRESET=quick notebooks/run.sh --inplace notebooks/02-*.ipynb
#   03  the real kernel benchmark (results/bench)
#   04, 05  `smoke` on synthetic data (no CIFAR-10/SVHN on the project machines), labelled as such
#   06  Fashion-MNIST `quick`                  BNN_PRESET=quick notebooks/run.sh --inplace notebooks/06-*.ipynb
#   07  its own preset (see the notebook)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
# Debian's Jupyter; the first python3 on PATH may be another Python without it.
PY=${BNN_JUPYTER_PYTHON:-/usr/bin/python3}
"$PY" -c 'import nbconvert, nbclient' 2>/dev/null || {
  echo "Jupyter not found for $PY: apt-get install jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel (or set BNN_JUPYTER_PYTHON)" >&2
  exit 1
}
mode=(--output-dir "${BNN_NOTEBOOK_OUT:-runs/notebooks}")
if [[ "${1:-}" == "--inplace" ]]; then
  mode=(--inplace)
  # Refreshing the committed outputs is the one run that may record named variants in results/ (07's).
  export BNN_RECORD_RESULTS=1
  shift
fi
notebooks=("$@")
[[ ${#notebooks[@]} -gt 0 ]] || notebooks=(notebooks/[0-9]*.ipynb)
for nb in "${notebooks[@]}"; do
  [[ -f "$nb" ]] || { echo "no such notebook: $nb" >&2; exit 1; }
done
# tslab compiles only TypeScript under the notebook's folder: notebooks load lib/ compiled to dist/.
npm run --silent build
"$PY" -m jupyter kernelspec list 2>/dev/null | grep -qE '^\s+tslab\s' || tslab install --python="$PY"
for nb in "${notebooks[@]}"; do
  echo "== $nb (preset: ${BNN_PRESET:-default})"
  start=$SECONDS
  "$PY" -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 \
    --ExecutePreprocessor.kernel_name=tslab "${mode[@]}" "$nb"
  echo "   ok in $((SECONDS - start)) s"
done
