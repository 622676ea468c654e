#!/usr/bin/env bash
# Set edgewatch up from scratch on Debian/Ubuntu: system packages, the .venv in this checkout, the package.
#   ./setup.sh          everything to train, run the agent and the demo (extras: train + edge)
#   ./setup.sh --dev    also the test tools, Chromium for the report test and, on x86_64, qemu-user-static and
#                       debootstrap for the aarch64 tests (extras: dev)
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup.sh: need root (or sudo) to install: ${*: -1}" >&2; return 1; fi
}

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "$dev" -eq 1 ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)  # promtool checks deploy/prometheus/*.yml
  if [ "$(uname -m)" = x86_64 ]; then  # tests/arm64: the edge stack on emulated 64-bit Raspberry Pi OS
    command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
    command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing system packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup.sh: edgewatch needs Python >= 3.11, found {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
extras="train"
[ "$dev" -eq 1 ] && extras="dev"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -e ".[$extras]"
echo "setup.sh: ready (.venv with edgewatch[$extras]); try: .venv/bin/edgewatch --help"
