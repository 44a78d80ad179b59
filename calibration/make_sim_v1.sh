#!/usr/bin/env bash
# Regenerate the calibration set sim-v1 from the simulator (13 views x 20 stills, 160 px, seed 20260)
# and write its PROVENANCE.json. The frames are not committed: this script is the set.
set -euo pipefail
cd "$(dirname "$0")/.."
RT=${RT:-.venv/bin/rtecho}
OUT=calibration/sim-v1
$RT synth --out "$OUT" --n 20 --size 160 --seed 20260 --no-progress
.venv/bin/python - "$OUT" <<'PY'
import json, sys, time
from pathlib import Path
import rtecho
out = Path(sys.argv[1])
counts = {d.name: len(list(d.glob("*.png"))) for d in sorted((out / "stills").iterdir()) if d.is_dir()}
(out / "PROVENANCE.json").write_text(json.dumps({
    "generator": "rtecho synth (rtecho.synth echo phantom simulator)",
    "rtecho_version": rtecho.__version__,
    "command": "rtecho synth --out calibration/sim-v1 --n 20 --size 160 --seed 20260",
    "seed": 20260, "size": 160, "frames_per_view": counts, "patient_data": False,
    "date": time.strftime("%Y-%m-%d"),
}, indent=2) + "\n")
PY
echo "calibration set in $OUT/stills"
