#!/usr/bin/env bash
# The labelling loop end to end under Xvfb, as a user (issue 13, "Done when"); not run in CI.
#
# Phase 1 (real X input with xdotool, the real window): paint a stroke of class 2, Ctrl+Z,
#   Ctrl+R (the shipped model predicts this image), Enter (accept), Ctrl+S, quit → the saved
#   mask has no void pixel and equals the prediction (the undone stroke left nothing behind).
# Phase 2 (headless verbs): segstudio predict → segstudio accept → segstudio export --format voc
#   → every image of the folder is exported; the image labelled in phase 1 kept its mask.
# Phase 3 (scripts/xvfb_loop_driver.py): screenshots of Accept all predictions, Help ▸ Keyboard
#   shortcuts, hide/lock, view adjustments and thumbnails at 1600×1000 and 1280×720.
# Needs: apt-get install -y xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 xdotool imagemagick
# Usage: scripts/xvfb_loop.sh [CAMVID_DIR] [SHOT_DIR]
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CAMVID=${1:-$REPO/../shared/data/camvid}
SHOTS=${2:-/tmp/segstudio-loop-shots}
DEMO=$(mktemp -d /tmp/segstudio-loop.XXXXXX)
SETTINGS="$DEMO.settings.ini"
DISP=:${XVFB_DISPLAY:-}
mkdir -p "$SHOTS"

ls "$CAMVID/val" | grep -i '\.png$' | sort | head -4 | while read -r f; do cp "$CAMVID/val/$f" "$DEMO/"; done
echo "demo folder: $DEMO ($(ls "$DEMO" | wc -l) images)"

if [ -z "${XVFB_DISPLAY:-}" ]; then        # a free display number, chosen by Xvfb itself
  Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$DEMO.display" >/dev/null 2>&1 &
  XVFB=$!
  for _ in $(seq 100); do [ -s "$DEMO.display" ] && break; sleep 0.1; done
  DISP=:$(cat "$DEMO.display")
else
  Xvfb "$DISP" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
  XVFB=$!
fi
APP=
cleanup() { [ -n "$APP" ] && kill "$APP" 2>/dev/null || true; kill "$XVFB" 2>/dev/null || true; }
trap cleanup EXIT
export DISPLAY=$DISP
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# -- phase 1: paint, undo, Ctrl+R, Enter, Ctrl+S ------------------------------------------------
SEGSTUDIO_SETTINGS="$SETTINGS" SEGSTUDIO_THEME=${SEGSTUDIO_THEME:-dark} segstudio gui "$DEMO" &
APP=$!
WIN=$(xdotool search --sync --onlyvisible --name "SegStudio" | head -1)
sleep 4                                    # listing, first image, default model loading
xdotool windowmove "$WIN" 0 0 windowsize "$WIN" 1400 900
xdotool windowfocus --sync "$WIN" || true
sleep 1
eval "$(xdotool getwindowgeometry --shell "$WIN")"   # X Y WIDTH HEIGHT
CX=$((X + WIDTH / 2)); CY=$((Y + HEIGHT / 2))
xdotool key 2                              # class 2 (Pole)
xdotool key bracketright bracketright bracketright
xdotool mousemove $((CX - 150)) "$CY" mousedown 1
for dx in $(seq -150 15 150); do xdotool mousemove $((CX + dx)) $((CY + dx / 8)); sleep 0.02; done
xdotool mouseup 1
sleep 0.5
import -window root "$SHOTS/loop_1_painted.png"
xdotool key ctrl+z                         # undo the stroke
sleep 0.5
KEY0=$(python3 -c "import sys; from segstudio.core.project import Project; print(Project(sys.argv[1]).keys()[0])" "$DEMO")
xdotool key ctrl+r                         # run the model on this image
for _ in $(seq 240); do [ -f "$DEMO/segstudio/predictions/$KEY0.png" ] && break; sleep 0.5; done
sleep 1                                    # the prediction reaches the window after its file is written
import -window root "$SHOTS/loop_2_predicted.png"
xdotool key Return                         # accept the prediction
sleep 1
xdotool key ctrl+s
sleep 2
import -window root "$SHOTS/loop_3_accepted.png"
xdotool key ctrl+q
wait "$APP" || true
APP=

python3 - "$DEMO" <<'PY'
import sys
import numpy as np
from segstudio.core.project import Project, Status
proj = Project(sys.argv[1])
key = proj.keys()[0]
mask = proj.read_mask(key)
assert mask is not None, f"no mask saved for {key}"
void = int((mask == proj.labels.void_value).sum())
pred = proj.read_prediction(key)
print(f"{key}: status {proj.status(key).value}, {void} void pixels of {mask.size}; "
      f"prediction stored: {pred is not None}")
assert void == 0, f"the saved mask of {key} has {void} void pixels (the undone stroke left a hole?)"
if pred is not None:
    assert np.array_equal(mask, pred), "accepted mask differs from the prediction although the stroke was undone"
print("phase 1 (paint, undo, Ctrl+R, Enter, Ctrl+S): OK")
PY

# -- phase 2: batch predict -> accept all -> export VOC ----------------------------------------
segstudio predict "$DEMO" --device cpu --quiet
segstudio accept "$DEMO" --quiet
rm -rf "$DEMO-voc"
segstudio export "$DEMO" --format voc --out "$DEMO-voc" --quiet
python3 - "$DEMO" "$DEMO-voc" <<'PY'
import sys
from pathlib import Path
from segstudio.core.project import Project
proj = Project(sys.argv[1])
exported = sorted(p.stem for p in Path(sys.argv[2]).rglob("SegmentationClass/*.png"))
keys = sorted(proj.keys())
print(f"exported {len(exported)} of {len(keys)} images: {exported}")
assert exported == keys, f"not every image was exported: {sorted(set(keys) - set(exported))} missing"
print("phase 2 (predict -> accept -> export voc): OK")
PY

# -- phase 3: dialogs and panels, screenshots at two window sizes --------------------------------
SEGSTUDIO_SETTINGS="$SETTINGS.shots" SEGSTUDIO_THEME=${SEGSTUDIO_THEME:-dark} \
  python3 "$REPO/scripts/xvfb_loop_driver.py" "$DEMO" "$SHOTS"
echo "screenshots in $SHOTS"
echo "xvfb loop: OK"
