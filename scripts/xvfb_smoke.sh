#!/usr/bin/env bash
# Launch SegStudio on a folder under Xvfb as a user would, paint a stroke of class 2 with
# real X input (xdotool), let autosave run, quit, and check the saved mask.
# Needs: apt-get install -y xvfb libxcb-icccm4 libxcb-keysyms1 xdotool imagemagick
# Not run in CI. Usage: scripts/xvfb_smoke.sh [CAMVID_VAL_DIR] [SHOT.png]
set -euo pipefail

VAL=${1:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data/camvid/val}
SHOT=${2:-/tmp/shot.png}
DEMO=$(mktemp -d /tmp/segstudio-demo.XXXXXX)
SETTINGS="$DEMO.settings.ini"
DISP=:${XVFB_DISPLAY:-97}

ls "$VAL" | grep -i '\.png$' | sort | head -3 | while read -r f; do cp "$VAL/$f" "$DEMO/"; done
echo "demo folder: $DEMO ($(ls "$DEMO" | wc -l) images)"

Xvfb "$DISP" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
cleanup() { kill "$APP" 2>/dev/null || true; kill "$XVFB" 2>/dev/null || true; }
trap cleanup EXIT
export DISPLAY=$DISP
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

SEGSTUDIO_SETTINGS="$SETTINGS" SEGSTUDIO_THEME=${SEGSTUDIO_THEME:-dark} segstudio gui "$DEMO" &
APP=$!
WIN=$(xdotool search --sync --onlyvisible --name "SegStudio" | head -1)
sleep 3                                   # listing + first image load
xdotool windowmove "$WIN" 0 0 windowsize "$WIN" 1400 900
xdotool windowfocus --sync "$WIN" || true
sleep 1
eval "$(xdotool getwindowgeometry --shell "$WIN")"   # X Y WIDTH HEIGHT
CX=$((X + WIDTH / 2)); CY=$((Y + HEIGHT / 2))
xdotool mousemove "$CX" "$CY" click 1 2>/dev/null || true   # focus the canvas (paints a dot of class 0)
xdotool key 2                             # class 2 (Pole)
xdotool key bracketright bracketright      # a bigger brush
xdotool mousemove $((CX - 200)) "$CY" mousedown 1
for dx in $(seq -200 20 200); do xdotool mousemove $((CX + dx)) $((CY + dx / 10)); sleep 0.02; done
xdotool mouseup 1
sleep 2                                   # autosave fires 1 s after the stroke
import -window root "$SHOT"
echo "screenshot: $SHOT"
xdotool key ctrl+q
wait "$APP" || true

python3 - "$DEMO" <<'PY'
import sys
from pathlib import Path
import numpy as np
from segstudio.core.project import Project
proj = Project(sys.argv[1])
key = proj.keys()[0]
mask = proj.read_mask(key)
assert mask is not None, f"no mask saved for {key}"
ys, xs = np.nonzero(mask == 2)
print(f"{key}: {len(xs)} pixels of class 2, x {xs.min()}..{xs.max()}, y {ys.min()}..{ys.max()}")
assert len(xs) > 500 and xs.max() - xs.min() > 100, "stroke of class 2 not found in the saved mask"
assert not any(Path(sys.argv[1], "segstudio", ".journal").glob("*.journal")), "journal not cleared after save"
print("xvfb smoke: stroke saved OK")
PY

# Phase 2: kill -9 right after a stroke (before the 1 s autosave), relaunch: the journal is replayed.
start_app() {
  SEGSTUDIO_SETTINGS="$SETTINGS" segstudio gui "$DEMO" &
  APP=$!
  WIN=$(xdotool search --sync --onlyvisible --name "SegStudio" | head -1)
  sleep 3
  xdotool windowmove "$WIN" 0 0 windowsize "$WIN" 1400 900
  xdotool windowfocus --sync "$WIN" || true
  sleep 1
  eval "$(xdotool getwindowgeometry --shell "$WIN")"
  CX=$((X + WIDTH / 2)); CY=$((Y + HEIGHT / 2))
}
start_app
xdotool mousemove "$CX" $((CY + 120)) click 1   # focus the canvas (a dot of the current class)
xdotool key 5
xdotool mousedown 1
for dx in $(seq 0 20 200); do xdotool mousemove $((CX + dx)) $((CY + 120)); sleep 0.02; done
xdotool mouseup 1
sleep 0.3                                 # the app has handled the release; autosave is 1 s away
kill -9 "$APP"; wait "$APP" 2>/dev/null || true
ls "$DEMO/segstudio/.journal/"*.journal >/dev/null && echo "killed with a pending journal"
start_app                                 # opening the folder replays the journal
xdotool key ctrl+q
wait "$APP" || true
python3 - "$DEMO" <<'PY'
import sys
import numpy as np
from segstudio.core.project import Project
proj = Project(sys.argv[1])
mask = proj.read_mask(proj.keys()[0])
n = int((mask == 5).sum())
print(f"after kill -9 and relaunch: {n} pixels of class 5 recovered")
assert n > 200, "stroke made just before the kill was lost"
print("xvfb smoke: OK")
PY
