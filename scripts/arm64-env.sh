# Sourced by scripts/arm64-python and scripts/arm64-smoke.sh: the emulated 64-bit Raspberry Pi OS
# (Debian bookworm arm64 userland under qemu user-mode emulation) and its aarch64 wheels, both cached
# outside the repository and built on first use (about 40 s; no arm64 code runs while building).
#
# Env:
#   EDGEWATCH_ARM64_CACHE  cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/edgewatch-arm64)
#   QEMU_CPU               cortex-a53 (Pi 3) | cortex-a72 (Pi 4, default) | cortex-a76 (Pi 5); never "max"
#   PYTHON_X86             python that resolves the aarch64 wheels (default: repo .venv/bin/python)
#   DEBIAN_MIRROR          Debian archive URI (default: the one apt already uses, else deb.debian.org)
# Needs root once, to apt-get install qemu-user-static debootstrap if `setup.sh --dev` has not.

# ---- pinned versions (aarch64 side). Keep in step with requirements/constraints.txt. ----
NUMPY_VERSION=2.4.6
ONNXRUNTIME_VERSION=1.32.0
LITERT_VERSION=2.3.0
PAHO_VERSION=2.2.0
SUITE=bookworm
PYVER=3.11

ARM64_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARM64_CACHE="${EDGEWATCH_ARM64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgewatch-arm64}"
ARM64_CPU="${QEMU_CPU:-cortex-a72}"
ARM64_PY_X86="${PYTHON_X86:-$ARM64_REPO/.venv/bin/python}"
ARM64_ROOT="$ARM64_CACHE/sysroot-$SUITE"
ARM64_SITE="$ARM64_CACHE/site-cp311-np$NUMPY_VERSION-ort$ONNXRUNTIME_VERSION-litert$LITERT_VERSION-paho$PAHO_VERSION"
ARM64_PY="$ARM64_ROOT/usr/bin/python$PYVER"

arm64_log() { printf '[arm64] %s\n' "$*" >&2; }

# Build what is missing (host tools, sysroot, wheel site) and write the fake Raspberry Pi CPU files.
# A lock makes concurrent first uses (two test processes) wait for one build instead of racing. The
# scripts that source this file run under `set -euo pipefail`, so any failing step stops them.
arm64_prepare() {
    case "$ARM64_CACHE" in "$ARM64_REPO"|"$ARM64_REPO"/*)
        echo "cache dir must be outside the repo: $ARM64_CACHE" >&2; return 2;; esac
    if [ "$ARM64_CPU" = max ]; then
        echo "QEMU_CPU=max exposes SVE etc. that no Pi has; use cortex-a53/a72/a76" >&2; return 2
    fi
    mkdir -p "$ARM64_CACHE"
    exec 9>"$ARM64_CACHE/.lock"
    flock 9
    _arm64_host_tools
    _arm64_sysroot
    _arm64_fake_pi
    _arm64_site
    exec 9>&-
}

_arm64_host_tools() {
    if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
        arm64_log "installing qemu-user-static debootstrap (setup.sh --dev does this)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static debootstrap >/dev/null
    fi
}

# debootstrap stage 1 only (it just downloads) + dpkg -x of every .deb: no arm64 code runs here.
_arm64_sysroot() {
    [ -e "$ARM64_ROOT/.edgewatch-ready" ] && return 0
    local mirror="${DEBIAN_MIRROR:-}"
    if [ -z "$mirror" ]; then
        mirror="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
                  | grep -v security | grep -o 'https\?://[^ ]*debian[^ ]*' | head -n1 || true)"
        mirror="${mirror:-http://deb.debian.org/debian}"
    fi
    arm64_log "building $SUITE arm64 sysroot in $ARM64_ROOT from $mirror"
    rm -rf "$ARM64_ROOT"; mkdir -p "$ARM64_ROOT"
    debootstrap --arch=arm64 --foreign --variant=minbase --include=python3 "$SUITE" "$ARM64_ROOT" "$mirror" \
        >"$ARM64_CACHE/debootstrap.log" 2>&1 || { tail -20 "$ARM64_CACHE/debootstrap.log" >&2; return 1; }
    local deb
    for deb in "$ARM64_ROOT"/var/cache/apt/archives/*.deb; do dpkg -x "$deb" "$ARM64_ROOT"; done
    [ -x "$ARM64_PY" ] || { echo "missing $ARM64_PY in the sysroot" >&2; return 1; }
    touch "$ARM64_ROOT/.edgewatch-ready"
}

# A Raspberry Pi 4's CPU files, always re-written after dpkg -x (which replaces /proc and /sys): without
# them `import onnxruntime` segfaults under qemu 7.2 reading the x86 host's /proc and /sys.
_arm64_fake_pi() {
    mkdir -p "$ARM64_ROOT/proc" "$ARM64_ROOT/sys/devices/system/cpu"
    {
        for i in 0 1 2 3; do
            printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$i"
            printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
        done
        printf 'Hardware\t: BCM2835\nRevision\t: c03111\nModel\t\t: Raspberry Pi 4 Model B Rev 1.1\n'
    } >"$ARM64_ROOT/proc/cpuinfo.new"
    mv "$ARM64_ROOT/proc/cpuinfo.new" "$ARM64_ROOT/proc/cpuinfo"  # atomic: another emulated process may be reading it
    local f
    for f in possible present online; do
        echo 0-3 >"$ARM64_ROOT/sys/devices/system/cpu/$f.new"
        mv "$ARM64_ROOT/sys/devices/system/cpu/$f.new" "$ARM64_ROOT/sys/devices/system/cpu/$f"
    done
}

# aarch64 wheels resolved on the x86 side. Every manylinux tag 2_17..2_36 must be listed: with only a few,
# pip silently picks ai-edge-litert 1.4.0.
_arm64_site() {
    [ -e "$ARM64_SITE/.edgewatch-ready" ] && return 0
    arm64_log "installing aarch64 wheels into $ARM64_SITE"
    rm -rf "$ARM64_SITE"; mkdir -p "$ARM64_SITE"
    local plats=(--platform manylinux2014_aarch64 --platform linux_aarch64) m
    for m in $(seq 17 36); do plats+=(--platform "manylinux_2_${m}_aarch64"); done
    "$ARM64_PY_X86" -m pip install -q --disable-pip-version-check --target "$ARM64_SITE" --only-binary=:all: \
        --python-version "$PYVER" --implementation cp "${plats[@]}" \
        "numpy==$NUMPY_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" \
        "ai-edge-litert==$LITERT_VERSION" "paho-mqtt==$PAHO_VERSION" 2>&1 \
        | { grep -v 'is neither a file nor a directory' || true; } >&2
    touch "$ARM64_SITE/.edgewatch-ready"
}

arm64_describe() {
    local debver
    debver() { ls "$ARM64_ROOT"/var/cache/apt/archives/ | sed -n "s/^$1_\([^_]*\)_arm64\.deb$/\1/p" | head -n1; }
    arm64_log "sysroot: $ARM64_ROOT (Debian $SUITE arm64: libc6 $(debver libc6), python$PYVER $(debver "python$PYVER"))"
    arm64_log "site:    $ARM64_SITE"
    arm64_log "pinned:  numpy==$NUMPY_VERSION onnxruntime==$ONNXRUNTIME_VERSION ai-edge-litert==$LITERT_VERSION paho-mqtt==$PAHO_VERSION; python $PYVER (Debian $SUITE); QEMU_CPU=$ARM64_CPU"
    arm64_log "site has: $(cd "$ARM64_SITE" && ls -d ./*.dist-info | sed 's|^\./||; s|\.dist-info$||; s|-|==|' | tr '\n' ' ')"
    arm64_log "qemu:    $(qemu-aarch64-static --version | head -n1)"
}

# The aarch64 interpreter under emulation in a clean environment: no host variables, `-S` (no host or
# sysroot site-packages), PYTHONPATH = the aarch64 wheels + this checkout's src/.
arm64_exec_python() {
    exec env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 \
        PYTHONPATH="$ARM64_SITE:$ARM64_REPO/src" PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 \
        QEMU_CPU="$ARM64_CPU" \
        qemu-aarch64-static -L "$ARM64_ROOT" "$ARM64_PY" -S "$@"
}
