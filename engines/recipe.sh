#!/usr/bin/env bash
# How rtecho's shipped models are made, on a 2-core CPU machine with nothing but the simulator.
# DATA=mix (after `data` and `data-v2`) trains on simulator v1 and v2 stills together.
# Every model here learns ONLY from rtecho's echo phantom simulator (rtecho.synth): demonstration
# weights, not for clinical use. Stages: bash engines/recipe.sh data|search|train MODEL|ship MODEL|int8 MODEL|confidence MODEL
# Logs of the runs that produced the committed files are in engines/logs/.
# The shipped weights came from (then ship, int8 and confidence for each):
#   bash engines/recipe.sh train darts2 --epochs 14 --patience 4
#   bash engines/recipe.sh train stanet --epochs 14 --patience 4
#   bash engines/recipe.sh train darts1 --epochs 14 --patience 4, then twice more with --resume --epochs 28
#     and --resume --epochs 40 --patience 5 (a resumed run stretches the cosine to the new length)
#   bash engines/recipe.sh train efficientnet_b0_cbam --epochs 30 --patience 6 --label-smoothing 0.1
#     (int8: bash engines/recipe.sh int8 efficientnet_b0_cbam --float-tail 25: CBAM and head in float)
#   SIZE=96 bash engines/recipe.sh train uiac --epochs 18 --patience 4
#   bash engines/recipe.sh lvseg lvseg_unet --time-limit 33   (segmenters: wall-clock cosine schedules on a
#   bash engines/recipe.sh lvseg lvseg_aspp --time-limit 45    shared, loaded 2-core machine; logs in engines/logs/)
#   bash engines/recipe.sh lvseg lvseg_lite --synth 720 --time-limit 55   (the default segmenter: 720 cines)
set -euo pipefail
cd "$(dirname "$0")/.."
RT=${RT:-.venv/bin/rtecho}
RUNS=${RUNS:-runs/zoo}
REAL=${REAL:-../shared/data/real/raventan95-echo-view-classifier}
SIZE=${SIZE:-128}

stage=${1:?usage: recipe.sh data|data-v2|search|train MODEL|ship MODEL|int8 MODEL|confidence MODEL|lvseg MODEL}
case "$stage" in
data)  # simulator stills, three disjoint seeds
    $RT synth --out "$RUNS/data/train" --n 300 --size 160 --seed 101 --no-progress
    $RT synth --out "$RUNS/data/val" --n 60 --size 160 --seed 202 --no-progress
    $RT synth --out "$RUNS/data/test" --n 100 --size 160 --seed 303 --no-progress
    $RT synth --out "$RUNS/data/search64" --n 100 --size 64 --seed 404 --no-progress
    ;;
data-v2)  # simulator v2 stills (3-D heart sliced by probe poses), same seeds; "mix" = v1 and v2 side by side
    for s in "train 300 101" "val 60 202" "test 100 303"; do
        set -- $s
        $RT synth --sim v2 --out "$RUNS/v2/$1" --n "$2" --size 160 --seed "$3" --no-progress
        for d in "$RUNS/data/$1/stills"/*; do
            v=$(basename "$d"); mkdir -p "$RUNS/mix/$1/stills/$v"
            for f in "$d"/*; do ln -sf "$(realpath "$f")" "$RUNS/mix/$1/stills/$v/v1_$(basename "$f")"; done
            for f in "$RUNS/v2/$1/stills/$v"/*; do ln -sf "$(realpath "$f")" "$RUNS/mix/$1/stills/$v/v2_$(basename "$f")"; done
        done
    done
    ;;
search)  # first-order DARTS at 64x64, one thread (two threads are slower on this machine)
    $RT search --data "$RUNS/data/search64/stills" --out "$RUNS/search" --size 64 --epochs "${EPOCHS:-20}" \
        --layers 5 --init-channels 8 --batch-size 32 --first-order --seed "${SEED:-0}" --threads 1 --no-progress
    ;;
train)  # MODEL [extra args for rtecho train]
    model=${2:?model}; shift 2
    $RT train "$model" --data "$RUNS/${DATA:-data}/train/stills" --val-data "$RUNS/${DATA:-data}/val/stills" --size "$SIZE" \
        --balanced --threads 1 --out "$RUNS/$model" --quiet "$@"
    ;;
ship)  # MODEL: evaluate on held-out simulator data, export with parity, evaluate the ONNX, score the real stills
    model=${2:?model}
    ck="$RUNS/$model/best.pt"
    $RT eval "$model" "$RUNS/data/test/stills" --checkpoint "$ck" --json "$RUNS/$model/test_torch.json" --no-png
    $RT export "$model" --checkpoint "$ck" --out "engines/$model.onnx" --parity-data "$RUNS/data/test/stills" \
        --metrics "$RUNS/$model/test_torch.json" \
        --training-data "${TRAINING_DATA:-SIMULATED ONLY: rtecho.synth echo phantom stills (13 views x 300, 160 px, seed 101), no patient data}"
    $RT eval "engines/$model.onnx" "$RUNS/data/test/stills" --json "engines/logs/$model.test.json"
    if [ -d "$REAL" ]; then
        $RT eval "engines/$model.onnx" "$REAL" --labels-from-names --coarse --json "engines/logs/$model.real.json" --no-png
    fi
    # the held-out figures of the exported ONNX go into its card (the card's sha256 covers the ONNX only)
    .venv/bin/python - "$model" <<'PY'
import json, sys
from pathlib import Path
from rtecho.commands.export import summary
from rtecho.types import ModelCard
name = sys.argv[1]
card = ModelCard.load(f"engines/{name}.json")
metrics = dict(card.metrics)
test = json.loads(Path(f"engines/logs/{name}.test.json").read_text())
metrics["heldout_sim_onnx"] = summary(test) | {"data": "rtecho synth seed 303, 13 x 100"}
real = Path(f"engines/logs/{name}.real.json")
if real.exists():
    r = json.loads(real.read_text())
    metrics["real_stills_coarse"] = {"correct": round(r["accuracy"] * r["n"]), "n": r["n"],
                                     "data": "10 public real stills (raventan95 echo-view-classifier), coarse labels"}
ModelCard.from_dict(card.to_dict() | {"metrics": metrics}).save(f"engines/{name}.json")
PY
    ;;
int8)  # MODEL: static INT8 (QDQ, s8 symmetric) from the calibration set, tuned for OpenVINO (where it pays here);
       # held-out accuracy of fp32 and int8 on the same backend goes into the card
    model=${2:?model}; shift 2  # extra args for rtecho calibrate (e.g. --float-tail 25)
    [ -d calibration/sim-v1/stills ] || bash calibration/make_sim_v1.sh
    $RT calibrate "$model" --data calibration/sim-v1/stills --backend openvino "$@"
    for prec in fp32 int8; do
        $RT eval "engines/$model.onnx" "$RUNS/data/test/stills" --backend openvino --precision "$prec" \
            --json "$RUNS/$model/test_openvino_$prec.json" --no-png
    done
    .venv/bin/python - "$model" "$RUNS" <<'PY'
import json, sys
from rtecho.types import ModelCard
name, runs = sys.argv[1], sys.argv[2]
acc = {p: json.load(open(f"{runs}/{name}/test_openvino_{p}.json"))["accuracy"] for p in ("fp32", "int8")}
card = ModelCard.load(f"engines/{name}.json")
metrics = dict(card.metrics) | {"int8_openvino": {"fp32_accuracy": acc["fp32"], "int8_accuracy": acc["int8"],
                                                   "points_lost": round(100 * (acc["fp32"] - acc["int8"]), 2),
                                                   "data": "held-out simulator stills, seed 303, 13 x 100"}}
ModelCard.from_dict(card.to_dict() | {"metrics": metrics}).save(f"engines/{name}.json")
print(name, acc)
PY
    ;;
confidence)  # MODEL: temperature scaling + unknown-rejection thresholds on held-out simulator stills, into the card
    model=${2:?model}
    $RT confidence "$model" --n 40 --seed 404 --test-seed 505 --write | tee "engines/logs/$model.confidence.txt"
    ;;
lvseg)  # MODEL (lvseg_lite | lvseg_aspp | lvseg_unet) [extra args for rtecho train]: LV segmenter on 480 simulator cines
        # (v1 and v2, A4C/A2C, EF 15-80; cached as $RUNS/MODEL/train.npz), export + INT8, held-out Dice into the card
    model=${2:?model}; shift 2
    $RT train "$model" --task segmentation --synth 480 --batch-size 16 --lr 3e-3 --threads 1 --epochs 100 \
        --out "$RUNS/$model" --export "engines/$model.onnx" --int8 "$@"
    .venv/bin/python benchmarks/seg_check.py "engines/$model.onnx" --int8 --write-card
    ;;
*) echo "unknown stage $stage" >&2; exit 2 ;;
esac
