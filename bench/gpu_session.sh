#!/usr/bin/env bash
# One GPU session in one `device` call: the CUDA tests and the benchmark rows of issue #2, inside ~9 minutes.
#
# Here, before the call (fills the git-ignored .whl/ with what the bare device lacks: 6 wheels, 8.6 MiB):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl -r bench/gpu-wheels.txt
# The call (.whl/ is ignored by git, so it must be carried; the script stays under the 600 s command limit):
#   run(command="bash bench/gpu_session.sh", carry=[".whl"], timeout_s=600)
# What comes back under $OUT: summary.txt (the figures the issue asks for), session.log (everything, in order) and
# results.tar.gz (per-step logs, pytest junit XML, every benchmark JSON). Copy the JSON you keep to bench/results/.
#
# The device: Python 3.12, torch 2.11 (+cu130), torchvision, timm, huggingface_hub, numpy, pillow, matplotlib, pytest;
# no open_clip, kornia, taming, ftfy (hence the wheels), no network, the repo copied but not pip-installed (hence
# PYTHONPATH). Every step is time-boxed with `timeout` and a later step runs even if an earlier one failed; the
# steps come in order of importance and each gets at most what is left of GPU_SESSION_BUDGET (default 520 s).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-session-out}
BUDGET=${GPU_SESSION_BUDGET:-520}
WORK=$(mktemp -d /tmp/gpu-session.XXXXXX)
RES=$WORK/results
LOGS=$WORK/logs
mkdir -p "$OUT" "$RES" "$LOGS"

export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 DSTRTD_OFFLINE=1 MPLBACKEND=Agg
export DSTRTD_CACHE=$WORK/cache
export TORCHINDUCTOR_CACHE_DIR=$WORK/inductor

STATUS=()
# step NAME CAP_SECONDS COMMAND...: run with the smaller of CAP and what is left of the budget; log to $LOGS/NAME.log
step() {
    local name=$1 cap=$2
    shift 2
    local left=$((BUDGET - SECONDS - 15))
    local limit=$((cap < left ? cap : left))
    if ((limit < 20)); then
        echo "== $name: skipped, ${left}s of the budget left"
        STATUS+=("$name: skipped (budget)")
        return
    fi
    local cmd="$*"
    echo "== $name (limit ${limit}s, at ${SECONDS}s): ${cmd:0:160}"
    local t0=$SECONDS
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    local verdict="ok"
    ((rc == 124 || rc == 137)) && verdict="TIMED OUT"
    ((rc != 0 && rc != 124 && rc != 137)) && verdict="FAILED rc=$rc"
    echo "== $name: $verdict in $((SECONDS - t0))s"
    STATUS+=("$name: $verdict ($((SECONDS - t0))s)")
}

main() {
if compgen -G ".whl/*.whl" >/dev/null; then
    echo "== wheels: $(ls .whl | tr '\n' ' ')"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || echo "!! wheel install failed"
    export PYTHONPATH=/tmp/site:$ROOT
else
    echo "!! no .whl/ carried: open_clip, kornia, taming and ftfy must already be installed"
    export PYTHONPATH=$ROOT
fi

read -r -d '' ENV_PY <<'EOF'
import importlib, platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| cudnn", torch.backends.cudnn.version(), "| available", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(torch.cuda.get_device_name(0), f"sm_{p.major}{p.minor}", f"{p.total_memory / 2**30:.1f} GiB",
          "bf16 native", torch.cuda.is_bf16_supported(including_emulation=False))
for name in ("torchvision", "timm", "huggingface_hub", "open_clip", "kornia", "kornia_rs", "taming", "ftfy",
             "numpy", "PIL", "matplotlib", "pytest"):
    try:
        module = importlib.import_module(name)
        print(f"  {name:16} {getattr(module, '__version__', '?')}  {module.__file__}")
    except Exception as exc:
        print(f"  {name:16} MISSING: {exc}")
import generator.pipeline, curation.scorer.checkpoint, training.contrastive.trainer, installation.cli  # noqa: F401
print("the repo imports")
EOF
step nvidia-smi 30 nvidia-smi
step env 60 python3 -c "$ENV_PY"

# the later -m wins over pyproject's addopts (-m "not gpu and not weights")
step pytest 230 python3 -m pytest -m gpu tests/gpu -p no:cacheprovider -rA --durations=15 \
    --junitxml="$RES/pytest-gpu.xml"

BENCH_GEN=bench/generator.py
[ -f "$BENCH_GEN" ] || BENCH_GEN=bench/bench_generator.py
# the issue's target row: 512x512, cutn 32, against nerdyrodent's loop (speed >= 2x, memory <= 60 %)
step generator-512 110 python3 "$BENCH_GEN" --device cuda --sizes 512 --cutn 32 --anchor --no-tiny --warmup 2 \
    --steps 5 --json "$RES/generator-cuda-512-anchor.json"
# the issue's piece: 300x300 (304: a multiple of 16), 300 steps, <= 20 s
step piece 110 python3 bench/gpu_piece.py --device cuda --size 304 304 --steps 300 --cutn 32 --pieces 2 \
    --json "$RES/gpu-piece-cuda.json"
step curation 60 python3 bench/gpu_curation.py --device cuda --json "$RES/gpu-curation-cuda.json"
TRAIN_ARGS=(--device cuda --models ViT-B-32 --batches 32,128 --steps ViT-B-32=5 --warmup ViT-B-32=2)
step training-amp 60 python3 bench/training.py "${TRAIN_ARGS[@]}" --amp --out "$RES/training-cuda-amp.json"
step training-fp32 60 python3 bench/training.py "${TRAIN_ARGS[@]}" --out "$RES/training-cuda-fp32.json"
step generator-grid 70 python3 "$BENCH_GEN" --device cuda --warmup 2 --steps 5 --json "$RES/generator-cuda.json"
step piece-compiled 120 python3 bench/gpu_piece.py --device cuda --compile --pieces 2 \
    --json "$RES/gpu-piece-cuda-compiled.json"

python3 - "$RES" <<'EOF' > "$OUT/summary.txt" 2>&1
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path

res = Path(sys.argv[1])
def load(name):
    path = res / name
    return json.loads(path.read_text()) if path.is_file() else None
print("GPU session summary")
if (res / "pytest-gpu.xml").is_file():
    suite = ET.parse(res / "pytest-gpu.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    print("pytest -m gpu:", {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")})
    for case in suite.iter("testcase"):
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            print("  FAILED", case.get("name"), "-", (bad.get("message") or "")[:300])
for name in ("generator-cuda-512-anchor.json", "generator-cuda.json"):
    doc = load(name)
    for row in (doc or {}).get("rows", []):
        print(f"{name}: {row['model']} {row['size']} cutn {row['cutn']}: {row['s_per_step']:.4f} s/step, "
              f"peak {row['peak_mb']} MB, speed_ratio {row.get('speed_ratio')}, memory_ratio {row.get('memory_ratio')}")
for name in ("gpu-piece-cuda.json", "gpu-piece-cuda-compiled.json"):
    doc = load(name)
    if doc:
        print(f"{name}: {doc['size']} {doc['steps']} steps cutn {doc['cutn']} {doc['precision']}"
              f"{' compiled' if doc['compile'] else ''}: pieces {[p['seconds'] for p in doc['pieces']]} s, "
              f"best warm {doc['warm_piece_s_best']} s, meets <= {doc['target_s']} s: {doc['meets_target']}, "
              f"peak {[p.get('max_memory_allocated_mb') for p in doc['pieces']]} MB, build {doc['build_s']} s")
doc = load("gpu-curation-cuda.json")
if doc:
    print(f"curation: best scorer {doc['best_scorer_images_per_s']} img/s (target >= {doc['target_images_per_s']})")
    for row in doc["rows"]:
        print(f"  {row['what']:<26} {row['mode']:>5} batch {row['batch']:>4}: {row['images_per_s']} img/s")
for name in ("training-cuda-amp.json", "training-cuda-fp32.json"):
    doc = load(name)
    for row in (doc or {}).get("rows", []):
        print(f"{name}: {row.get('model')} {row.get('loss')} batch {row.get('batch')}: "
              f"{row.get('samples_per_s')} samples/s")
EOF
{
    echo "steps:"
    for s in "${STATUS[@]}"; do echo "  $s"; done
    echo "total ${SECONDS}s of a ${BUDGET}s budget"
} | tee -a "$OUT/summary.txt"
tar -czf "$OUT/results.tar.gz" -C "$WORK" results logs
echo "wrote $OUT/summary.txt, $OUT/session.log, $OUT/results.tar.gz"
}

main 2>&1 | tee "$OUT/session.log"
