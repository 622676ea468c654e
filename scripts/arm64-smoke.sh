#!/usr/bin/env bash
# Run the edgewatch EDGE stack on 64-bit Raspberry Pi OS (aarch64, Debian bookworm userland)
# under qemu user-mode emulation, then compare with native x86 results (docs/arm64.md).
#
# Usage: scripts/arm64-smoke.sh BUNDLE_DIR CSV [START [ROWS]]
#   BUNDLE_DIR  a bundle made by `edgewatch train` (on x86)
#   CSV         a table to score; only data rows START+1 .. START+ROWS are used (default 0, 600):
#               emulation is 400-500x slower than native, keep the slice small
# Exit status: 0 only if every comparison passes.
#
# Env: OUT_DIR (where results go; default a fresh mktemp dir), and those of scripts/arm64-env.sh
# (EDGEWATCH_ARM64_CACHE, QEMU_CPU, PYTHON_X86, DEBIAN_MIRROR).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/arm64-env.sh"

BUNDLE="${1:?usage: $0 BUNDLE_DIR CSV [START [ROWS]]}"
CSV="${2:?usage: $0 BUNDLE_DIR CSV [START [ROWS]]}"
START="${3:-0}"
ROWS="${4:-600}"
BUNDLE="$(cd "$BUNDLE" && pwd)"
CSV="$(cd "$(dirname "$CSV")" && pwd)/$(basename "$CSV")"
OUT="${OUT_DIR:-$(mktemp -d /tmp/edgewatch-arm64.XXXXXX)}"
mkdir -p "$OUT"

# ---- 1. host tools, arm64 sysroot, aarch64 wheels (cached) ----
arm64_prepare
arm64_describe

# ---- 2. the CSV slice both sides score (header + rows START+1 .. START+ROWS) ----
SLICE="$OUT/slice.csv"
awk -v a="$START" -v b="$((START + ROWS))" 'NR == 1 || (NR - 1 > a && NR - 1 <= b)' "$CSV" >"$SLICE"
arm64_log "slice:   $SLICE = rows $((START + 1))..$((START + ROWS)) of $CSV ($(($(wc -l <"$SLICE") - 1)) rows)"

# ---- 3. the smoke run under emulation (clean env: no host site-packages) ----
arm64_log "running scripts/arm64_smoke.py under qemu-aarch64 (slow: correctness only, never timing)"
( arm64_exec_python "$ARM64_REPO/scripts/arm64_smoke.py" --bundle "$BUNDLE" --csv "$SLICE" --out "$OUT/arm64.json" )

# ---- 4. native x86 results + comparison ----
arm64_log "comparing with native x86 ($ARM64_PY_X86)"
"$ARM64_PY_X86" "$ARM64_REPO/scripts/arm64_compare.py" --bundle "$BUNDLE" --csv "$SLICE" \
    --emulated "$OUT/arm64.json" --out "$OUT/x86.json"
