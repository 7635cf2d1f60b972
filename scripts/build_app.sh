#!/usr/bin/env bash
# Build the one-folder desktop bundle dist/segstudio/ (GUI + every CLI verb in one executable).
# Usage: scripts/build_app.sh [extra pyinstaller args, e.g. --clean]
# Prints the build time, the bundle size and what dominates it. See docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "build_app: installing PyInstaller"
    "$PY" -m pip install -q "pyinstaller>=6.0"
fi
if [ ! -f resources/models/camvid_default.pt ]; then
    echo "build_app: warning: resources/models/camvid_default.pt is missing; the bundle ships no default model" >&2
fi

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm "$@" segstudio.spec
end=$(date +%s)
secs=$((end - start))

bundle=dist/segstudio
echo
echo "build_app: built $bundle/segstudio in $((secs / 60)) min $((secs % 60)) s"
echo "build_app: bundle size $(du -sh "$bundle" | cut -f1) ($(du -sb "$bundle" | cut -f1) bytes, $(find "$bundle" -type f | wc -l) files)"
echo "build_app: largest top-level parts of $bundle/_internal:"
du -sh "$bundle"/_internal/* 2>/dev/null | sort -rh | head -12 | sed 's/^/    /'
echo "build_app: largest files:"
find "$bundle" -type f -size +20M -printf '%s %P\n' | sort -rn | head -15 \
    | awk '{printf "    %6.0f MB  %s\n", $1 / 1048576, $2}'
echo "build_app: try it: $bundle/segstudio doctor"
