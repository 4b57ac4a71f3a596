#!/usr/bin/env bash
# Download every wheel Stillroom needs into one folder, pinned and hashed, for an offline
# `pip install --no-index` on an air-gapped machine (DESIGN §9, docs/INSTALL.md).
#
#   packaging/wheelhouse.sh OUT_DIR [--gpu] [--extras LIST]     Stillroom, its dependencies
#                                                               and the offline model packages
#   packaging/wheelhouse.sh OUT_DIR --only PKG [PKG ...]        just these installed packages
#   packaging/wheelhouse.sh OUT_DIR --requirements FILE         just these name==version pins
#
# The versions are the ones installed in $PYTHON (default: the repository's .venv), following
# pyproject.toml's dependencies plus the extras (default `cpu`; `--gpu` swaps in
# onnxruntime-gpu and the CUDA build of torch and resolves their CUDA wheels). The offline
# model and data packages are the Makefile's NO_DEPS. Run it on the OS, CPU architecture and
# Python version (3.11) of the target machine: wheels are platform-specific.
#
# pip uses its ordinary configuration (index, find-links, proxy, constraints). A torch pin
# with a local tag (2.13.0+cpu) that the configured sources lack is fetched from
# $TORCH_INDEX_URL (default https://download.pytorch.org/whl/cpu). With --gpu from a CPU
# environment, torch is the plain release of the same version (PyPI's CUDA build, plus its
# nvidia-* wheels) and onnxruntime-gpu[cuda,cudnn] the onnxruntime version installed here,
# or $ORT_GPU_VERSION; $TORCH_CUDA_INDEX_URL adds an index for another CUDA build.
#
# OUT_DIR gets the wheels, SHA256SUMS, requirements.lock, requirements-nodeps.lock,
# pins.txt and INSTALL.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
TORCH_CUDA_INDEX_URL="${TORCH_CUDA_INDEX_URL:-}"

die() { echo "wheelhouse.sh: $*" >&2; exit 2; }
usage() { sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -ge 1 && $1 != -* ]] || usage
OUT="$1"; shift
GPU=0 EXTRAS="" REQUIREMENTS="" ONLY=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --gpu) GPU=1; shift ;;
        --extras) EXTRAS="${2:?--extras needs a value}"; shift 2 ;;
        --requirements) REQUIREMENTS="${2:?--requirements needs a file}"; shift 2 ;;
        --only) shift; while [[ $# -gt 0 && $1 != --* ]]; do ONLY+=("$1"); shift; done
                [[ ${#ONLY[@]} -gt 0 ]] || die "--only needs at least one package" ;;
        -h|--help) usage ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ -x $PYTHON ]] || die "no Python at $PYTHON (set PYTHON=/path/to/venv/bin/python)"
[[ -z $REQUIREMENTS || ${#ONLY[@]} -eq 0 ]] || die "--only and --requirements exclude each other"
PIP=("$PYTHON" -m pip --disable-pip-version-check)

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
[[ -z "$(find "$OUT" -maxdepth 1 \( -name '*.whl' -o -name '*.tar.gz' \) -print -quit)" ]] \
    || die "$OUT already holds packages; use an empty folder"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
started=$SECONDS

# --- 1. the pins --------------------------------------------------------------------------
RESOLVE=()   # requirements downloaded with their dependencies (the GPU runtime)
PROJECT=1
if [[ -n $REQUIREMENTS ]]; then
    grep -Ev '^\s*(#|$)' "$REQUIREMENTS" > "$WORK/pins.txt"
    PROJECT=0
elif [[ ${#ONLY[@]} -gt 0 ]]; then
    "$PYTHON" "$ROOT/packaging/pins.py" --only "${ONLY[@]}" > "$WORK/pins.txt"
    PROJECT=0
elif [[ $GPU -eq 1 ]] && "$PYTHON" "$ROOT/packaging/pins.py" --extras "${EXTRAS:-gpu}" \
        > "$WORK/pins.txt" 2>/dev/null; then
    :   # built from a GPU environment: its own pins, CUDA wheels included
elif [[ $GPU -eq 1 ]]; then
    # A CPU environment: pin everything else from it, and let pip resolve the CUDA torch
    # and onnxruntime-gpu (their nvidia-* wheels) under those pins.
    "$PYTHON" "$ROOT/packaging/pins.py" --extras "${EXTRAS:-cpu}" > "$WORK/all.txt"
    torch_version="$(sed -n 's/^torch==\([^+]*\).*/\1/p' "$WORK/all.txt")"
    ort_version="$(sed -n 's/^onnxruntime==//p' "$WORK/all.txt")"
    [[ -n $torch_version && -n $ort_version ]] || die "torch or onnxruntime is not installed"
    grep -Ev '^(torch|onnxruntime)==' "$WORK/all.txt" > "$WORK/pins.txt"
    # `===` excludes local builds such as 2.13.0+cpu (found first in some find-links).
    RESOLVE=("torch===$torch_version" "onnxruntime-gpu[cuda,cudnn]==${ORT_GPU_VERSION:-$ort_version}")
else
    "$PYTHON" "$ROOT/packaging/pins.py" --extras "${EXTRAS:-cpu}" > "$WORK/pins.txt"
fi
echo "wheelhouse: $(wc -l < "$WORK/pins.txt") pinned packages${RESOLVE:+ + ${RESOLVE[*]}}"

# --- 2. the wheels ------------------------------------------------------------------------
# `pip wheel` takes a published wheel as is and builds one from an sdist, so the target
# never compiles anything. torch goes on its own: a local-tagged build may need its index.
grep -E '^torch==' "$WORK/pins.txt" > "$WORK/torch.txt" || true
grep -Ev '^torch==' "$WORK/pins.txt" > "$WORK/rest.txt" || true
if [[ -s $WORK/rest.txt ]]; then
    "${PIP[@]}" wheel --quiet --no-deps -r "$WORK/rest.txt" -w "$OUT"
fi
if [[ -s $WORK/torch.txt ]]; then
    if ! "${PIP[@]}" wheel --quiet --no-deps -r "$WORK/torch.txt" -w "$OUT" 2>"$WORK/torch.err"
    then
        echo "wheelhouse: torch not in the configured sources; trying $TORCH_INDEX_URL"
        "${PIP[@]}" wheel --quiet --no-deps -r "$WORK/torch.txt" -w "$OUT" \
            --extra-index-url "$TORCH_INDEX_URL"
    fi
fi
if [[ ${#RESOLVE[@]} -gt 0 ]]; then
    "${PIP[@]}" download --quiet --only-binary=:all: -c "$WORK/pins.txt" -d "$OUT" \
        ${TORCH_CUDA_INDEX_URL:+--extra-index-url "$TORCH_CUDA_INDEX_URL"} "${RESOLVE[@]}"
fi

NODEPS=()
if [[ $PROJECT -eq 1 ]]; then
    read -r -a NODEPS <<< "$(make -s --no-print-directory -C "$ROOT" \
        --eval 'print-no-deps: ; @echo $(NO_DEPS)' print-no-deps)"
    "${PIP[@]}" wheel --quiet --no-deps -w "$OUT" "${NODEPS[@]}"
    # Stillroom itself, from a clean copy of the source (no stale build/ in the wheel).
    mkdir "$WORK/src"
    cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$WORK/src/"
    (cd "$ROOT" && tar --exclude=__pycache__ -cf - core desktop resources) | tar -xf - -C "$WORK/src"
    "${PIP[@]}" wheel --quiet --no-deps --no-build-isolation -w "$OUT" "$WORK/src"
fi

# --- 3. hashes, locks and the note --------------------------------------------------------
cp "$WORK/pins.txt" "$OUT/pins.txt"
"$PYTHON" "$ROOT/packaging/lock.py" "$OUT" --no-deps "${NODEPS[@]%%==*}"
python_tag="$("$PYTHON" -c 'import platform,sys; print(sys.version.split()[0], platform.machine())')"
cat > "$OUT/INSTALL.txt" <<EOF
Stillroom offline wheelhouse, made $(date -u +%Y-%m-%dT%H:%MZ) for Python $python_tag
($( [[ $GPU -eq 1 ]] && echo "GPU: onnxruntime-gpu, CUDA torch" || echo "CPU" )).
Install on a machine with the same OS, architecture and Python version; no network needed.

  sha256sum -c SHA256SUMS                     # every file is the one recorded here
  python3.11 -m venv /opt/stillroom/venv
  /opt/stillroom/venv/bin/pip install --no-index --find-links . \\
      --require-hashes -r requirements.lock
EOF
if [[ -s $OUT/requirements-nodeps.lock ]]; then
    cat >> "$OUT/INSTALL.txt" <<'EOF'
  /opt/stillroom/venv/bin/pip install --no-index --find-links . \
      --require-hashes --no-deps -r requirements-nodeps.lock     # offline models and data
EOF
fi
if [[ $PROJECT -eq 1 ]]; then
    cat >> "$OUT/INSTALL.txt" <<'EOF'
  /opt/stillroom/venv/bin/stillroom --help

See docs/INSTALL.md in the Stillroom sources for the rest (models, teacher endpoint, egress).
EOF
fi
echo "wheelhouse: $OUT ($(du -sh "$OUT" | cut -f1), $(( SECONDS - started )) s)"
