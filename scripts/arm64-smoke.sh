#!/usr/bin/env bash
# Run the edgewatch EDGE stack on 64-bit Raspberry Pi OS (aarch64, Debian bookworm userland)
# under qemu user-mode emulation, then compare with native x86 results.
#
# Usage: scripts/arm64-smoke.sh BUNDLE_DIR CSV [START [ROWS]]
#   BUNDLE_DIR  a bundle made by `edgewatch train` (on x86)
#   CSV         a table to score; only data rows START+1 .. START+ROWS are used (default 0, 600):
#               emulation is 400-500x slower than native, keep the slice small
# Exit status: 0 only if every comparison passes.
#
# Env:
#   EDGEWATCH_ARM64_CACHE  cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/edgewatch-arm64)
#   QEMU_CPU               cortex-a53 (Pi 3) | cortex-a72 (Pi 4, default) | cortex-a76 (Pi 5); never "max"
#   PYTHON_X86             python used for the native comparison (default: repo .venv/bin/python)
#   DEBIAN_MIRROR          Debian archive URI (default: the one apt already uses, else deb.debian.org)
#   OUT_DIR                where results go (default: a fresh mktemp dir)
# Needs root once, to apt-get install qemu-user-static debootstrap and to debootstrap.
set -euo pipefail

# ---- pinned versions (aarch64 side). Keep in step with the x86 venv. ----
NUMPY_VERSION=2.4.6
ONNXRUNTIME_VERSION=1.32.0
LITERT_VERSION=2.3.0
PAHO_VERSION=2.2.0
SUITE=bookworm
PYVER=3.11

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUNDLE="${1:?usage: $0 BUNDLE_DIR CSV [START [ROWS]]}"
CSV="${2:?usage: $0 BUNDLE_DIR CSV [START [ROWS]]}"
START="${3:-0}"
ROWS="${4:-600}"
BUNDLE="$(cd "$BUNDLE" && pwd)"
CSV="$(cd "$(dirname "$CSV")" && pwd)/$(basename "$CSV")"
CACHE="${EDGEWATCH_ARM64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgewatch-arm64}"
CPU="${QEMU_CPU:-cortex-a72}"
PY_X86="${PYTHON_X86:-$REPO/.venv/bin/python}"
OUT="${OUT_DIR:-$(mktemp -d /tmp/edgewatch-arm64.XXXXXX)}"
mkdir -p "$OUT"

case "$CACHE" in "$REPO"|"$REPO"/*) echo "cache dir must be outside the repo: $CACHE" >&2; exit 2;; esac
if [ "$CPU" = max ]; then echo "QEMU_CPU=max exposes SVE etc. that no Pi has; use cortex-a53/a72/a76" >&2; exit 2; fi

ROOT="$CACHE/sysroot-$SUITE"
SITE="$CACHE/site-cp311-np$NUMPY_VERSION-ort$ONNXRUNTIME_VERSION-litert$LITERT_VERSION-paho$PAHO_VERSION"

log() { printf '[arm64-smoke] %s\n' "$*" >&2; }

# ---- 1. host tools ----
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
    log "installing qemu-user-static debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap
fi

# ---- 2. arm64 sysroot: debootstrap stage 1 only + dpkg -x (no arm64 code runs here) ----
if [ ! -e "$ROOT/.edgewatch-ready" ]; then
    mirror="${DEBIAN_MIRROR:-}"
    if [ -z "$mirror" ]; then
        mirror="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
                  | grep -v security | grep -o 'https\?://[^ ]*debian[^ ]*' | head -n1 || true)"
        mirror="${mirror:-http://deb.debian.org/debian}"
    fi
    log "building $SUITE arm64 sysroot in $ROOT from $mirror"
    rm -rf "$ROOT"; mkdir -p "$ROOT"
    debootstrap --arch=arm64 --foreign --variant=minbase --include=python3 "$SUITE" "$ROOT" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    for deb in "$ROOT"/var/cache/apt/archives/*.deb; do dpkg -x "$deb" "$ROOT"; done
    touch "$ROOT/.edgewatch-ready"
fi
# Fake Raspberry Pi 4 CPU info, always re-written AFTER dpkg -x (it replaces /proc and /sys);
# without it `import onnxruntime` segfaults reading the x86 host's /proc and /sys under qemu 7.2.
mkdir -p "$ROOT/proc" "$ROOT/sys/devices/system/cpu"
{
    for i in 0 1 2 3; do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$i"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
    done
    printf 'Hardware\t: BCM2835\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n'
} >"$ROOT/proc/cpuinfo"
for f in possible present online; do echo 0-3 >"$ROOT/sys/devices/system/cpu/$f"; done
SYS_PY="$ROOT/usr/bin/python$PYVER"
[ -x "$SYS_PY" ] || { echo "missing $SYS_PY in sysroot" >&2; exit 1; }

# ---- 3. aarch64 wheels, resolved on the x86 side ----
if [ ! -e "$SITE/.edgewatch-ready" ]; then
    log "installing aarch64 wheels into $SITE"
    rm -rf "$SITE"; mkdir -p "$SITE"
    plats=(--platform manylinux2014_aarch64 --platform linux_aarch64)
    for m in $(seq 17 36); do plats+=(--platform "manylinux_2_${m}_aarch64"); done
    "$PY_X86" -m pip install -q --disable-pip-version-check --target "$SITE" --only-binary=:all: \
        --python-version "$PYVER" --implementation cp "${plats[@]}" \
        "numpy==$NUMPY_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" \
        "ai-edge-litert==$LITERT_VERSION" "paho-mqtt==$PAHO_VERSION" 2>&1 \
        | { grep -v 'is neither a file nor a directory' || true; } >&2
    touch "$SITE/.edgewatch-ready"
fi

debver() { ls "$ROOT"/var/cache/apt/archives/ | sed -n "s/^$1_\([^_]*\)_arm64\.deb$/\1/p" | head -n1; }
log "sysroot: $ROOT (Debian $SUITE arm64: libc6 $(debver libc6), python$PYVER $(debver "python$PYVER"))"
log "site:    $SITE"
log "pinned:  numpy==$NUMPY_VERSION onnxruntime==$ONNXRUNTIME_VERSION ai-edge-litert==$LITERT_VERSION paho-mqtt==$PAHO_VERSION; python $PYVER (Debian $SUITE); QEMU_CPU=$CPU"
log "site has: $(cd "$SITE" && ls -d ./*.dist-info | sed 's|^\./||; s|\.dist-info$||; s|-|==|' | tr '\n' ' ')"
log "qemu:    $(qemu-aarch64-static --version | head -n1)"

# ---- 4. the CSV slice both sides score (header + rows START+1 .. START+ROWS) ----
SLICE="$OUT/slice.csv"
awk -v a="$START" -v b="$((START + ROWS))" 'NR == 1 || (NR - 1 > a && NR - 1 <= b)' "$CSV" >"$SLICE"
log "slice:   $SLICE = rows $((START + 1))..$((START + ROWS)) of $CSV ($(($(wc -l <"$SLICE") - 1)) rows)"

# ---- 5. the smoke run under emulation (clean env: no host site-packages) ----
log "running scripts/arm64_smoke.py under qemu-aarch64 (slow: correctness only, never timing)"
env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 \
    PYTHONPATH="$SITE:$REPO/src" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 \
    QEMU_CPU="$CPU" \
    qemu-aarch64-static -L "$ROOT" "$SYS_PY" -S "$REPO/scripts/arm64_smoke.py" \
        --bundle "$BUNDLE" --csv "$SLICE" --out "$OUT/arm64.json"

# ---- 6. native x86 results + comparison ----
log "comparing with native x86 ($PY_X86)"
"$PY_X86" "$REPO/scripts/arm64_compare.py" --bundle "$BUNDLE" --csv "$SLICE" \
    --emulated "$OUT/arm64.json" --out "$OUT/x86.json"
