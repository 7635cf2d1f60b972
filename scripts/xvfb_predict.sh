#!/usr/bin/env bash
# Prediction / CRF / evaluation demo of SegStudio under Xvfb, with screenshots (not run in CI).
#
# Copies 3 CamVid val images to a fresh folder, takes the default model (resources/models/
# camvid_default.pt, else the newest runs/default/camvid_default.pt, copied — never moved), and
# drives the app (scripts/xvfb_predict_driver.py): open, Ctrl+R, toggle CRF, attach the
# ground truth (valannot), error overlay, confusion matrix, uncertainty, accept with Enter,
# folder table. Screenshots: $SHOTS/shot8_N.png (default /tmp).
# Needs: apt-get install -y xvfb xdotool imagemagick x11-utils
# Usage: scripts/xvfb_predict.sh [CAMVID_DIR] [SHOT_DIR]
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CAMVID=${1:-$REPO/../shared/data/camvid}
SHOTS=${2:-/tmp}
DEMO=${DEMO:-/tmp/demo8}
DISP=:${XVFB_DISPLAY:-98}

rm -rf "$DEMO" && mkdir -p "$DEMO" "$SHOTS"
ls "$CAMVID/val" | grep -i '\.png$' | sort | head -3 | while read -r f; do cp "$CAMVID/val/$f" "$DEMO/"; done
echo "demo folder: $DEMO ($(ls "$DEMO" | wc -l) images)"

MODEL=/tmp/segstudio_demo8_model.pt
if [ -f "$REPO/resources/models/camvid_default.pt" ]; then
  cp "$REPO/resources/models/camvid_default.pt" "$MODEL"
elif [ -f "$REPO/runs/default/camvid_default.pt" ]; then
  cp "$REPO/runs/default/camvid_default.pt" "$MODEL"        # the model still training: a snapshot
else
  echo "no default model found" >&2; exit 1
fi
echo "model: $MODEL"

Xvfb "$DISP" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
trap 'kill "$XVFB" 2>/dev/null || true' EXIT
export DISPLAY=$DISP
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

SETTINGS=$(mktemp /tmp/segstudio-demo8.XXXXXX.ini)
SEGSTUDIO_THEME=${SEGSTUDIO_THEME:-dark} python3 "$REPO/scripts/xvfb_predict_driver.py" \
  "$DEMO" "$MODEL" "$CAMVID/valannot" "$SHOTS" "$SETTINGS"

python3 - "$DEMO" "$CAMVID/valannot" <<'PY'
import sys
from segstudio.core.project import Project, Status
proj = Project(sys.argv[1])
key = proj.keys()[0]
assert proj.prediction_path(key).exists(), "no predictions/<key>.png written"
assert proj.ground_truth is not None, "ground truth not attached"
print(f"{key}: status {proj.status(key).value}; predictions: "
      f"{sorted(p.name for p in (proj.store / 'predictions').glob('*.png'))}")
print("xvfb predict demo: OK")
PY
