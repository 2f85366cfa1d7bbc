#!/usr/bin/env bash
# One command: install dependencies, build, and launch LayerLens (the built-in demo when no model is
# given). Arguments go to the app, e.g. packaging/run.sh ../shared/models/stories260K.gguf
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/packaging/install-deps.sh"
"$here/packaging/build.sh"
build=${LAYERLENS_BUILD_DIR:-$here/build}
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run.sh: no display found; starting LayerLens under Xvfb (headless)" >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "$build/app/layerlens" "$@"
fi
exec "$build/app/layerlens" "$@"
