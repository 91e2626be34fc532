#!/usr/bin/env bash
# npm run notebook [-- JUPYTER-FLAGS]: Jupyter Notebook on notebooks/ with the TypeScript kernel (tslab).
# Builds lib/ to dist/ (the notebooks import it), registers the tslab kernel with Debian's Jupyter once, puts
# node_modules/.bin on PATH (the kernel spec runs `tslab`: without it the kernel dies with "No such file or
# directory: 'tslab'"), and adds --allow-root when run as root. Needs: apt-get install jupyter-notebook.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
# Debian's Jupyter; the first python3 on PATH may be another Python without it.
PY=${BNN_JUPYTER_PYTHON:-/usr/bin/python3}
"$PY" -c 'import notebook' 2>/dev/null || {
  echo "Jupyter Notebook not found for $PY: apt-get install jupyter-notebook (or set BNN_JUPYTER_PYTHON)" >&2
  exit 1
}
npm run --silent build
"$PY" -m jupyter kernelspec list 2>/dev/null | grep -qE '^\s+tslab\s' || tslab install --python="$PY"
flags=(--notebook-dir=notebooks)
[[ $(id -u) -ne 0 ]] || flags+=(--allow-root)
exec "$PY" -m notebook "${flags[@]}" "$@"
