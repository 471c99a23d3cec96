#!/usr/bin/env bash
# Builds preflight for aarch64 and armv7 Linux without Docker and runs `preflight check` on the
# default bundle under qemu-user. Fails unless each run's verdict is pass, every correctness
# and parity check holds, the report names the ARM triple and latency is marked not measured.
#
#   tools/arm-emulate.sh [--only aarch64|armv7] [--skip-install]
#
# Needs a Debian 12 machine (root for apt). Uses Debian's rustc/cargo 1.96 (rustc-web,
# cargo-web) for ARM; the rustup toolchain stays the one for host builds and tests.
#  - aarch64: Debian's prebuilt standard library (libstd-rust-web-dev:arm64).
#  - armv7: no 1.96 armhf standard library is packaged, so it is built from rust-web-src with
#    -Zbuild-std (RUSTC_BOOTSTRAP=1 lets the stable compiler take the flag).
# Reports land in reports/arm/<arch>.json (+ .xml, + .txt).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

only=""
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --skip-install) install=0; shift ;;
    *) echo "usage: $0 [--only aarch64|armv7] [--skip-install]" >&2; exit 2 ;;
  esac
done

now() { date +%s; }
say() { printf '== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

if [ "$install" = 1 ]; then
  t=$(now)
  say "installing Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  dpkg --add-architecture arm64
  apt-get update -q
  apt-get install -y -q rustc-web cargo-web gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf \
    qemu-user-static libstd-rust-web-dev:arm64 rust-web-src >/dev/null
  echo "install: $(( $(now) - t )) s"
fi

# Debian's toolchain, whatever else is on PATH.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
cargo=/usr/bin/cargo
"$RUSTC" --version
# ARM outputs apart from the host target dir, so neither build waits for the other's lock.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_ARM:-$root/target-arm}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc
mkdir -p reports/arm

run_arch() {
  local arch=$1 triple qemu sysroot profile extra=()
  case "$arch" in
    aarch64) triple=aarch64-unknown-linux-gnu qemu=qemu-aarch64-static sysroot=/usr/aarch64-linux-gnu ;;
    armv7) triple=armv7-unknown-linux-gnueabihf qemu=qemu-arm-static sysroot=/usr/arm-linux-gnueabihf
           extra=(-Zbuild-std=std,panic_abort) ;;
    *) echo "unknown arch $arch" >&2; return 2 ;;
  esac
  local t=$(now)
  say "building $triple"
  # The dev profile is optimized (opt-level 2, dependencies 3) and builds faster than release.
  RUSTC_BOOTSTRAP=$([ "$arch" = armv7 ] && echo 1 || echo 0) \
    "$cargo" build --locked --target "$triple" --bin preflight "${extra[@]}"
  local bin="$CARGO_TARGET_DIR/$triple/debug/preflight"
  file "$bin" 2>/dev/null || true
  echo "build $arch: $(( $(now) - t )) s"

  t=$(now)
  say "preflight check under $qemu"
  local code=0
  "$qemu" -L "$sysroot" "$bin" check models/blazeface --target "qemu-$arch" \
    --report "reports/arm/$arch.json" --junit "reports/arm/$arch.xml" | tee "reports/arm/$arch.txt" || code=$?
  echo "emulated check $arch: $(( $(now) - t )) s, exit $code"
  python3 - "reports/arm/$arch.json" "$triple" <<'PY'
import json, sys
path, triple = sys.argv[1], sys.argv[2]
r = json.load(open(path))
problems = []
if r["verdict"] != "pass":
    problems.append(f"verdict {r['verdict']}")
if r["host"]["triple"] != triple:
    problems.append(f"host triple {r['host']['triple']}, expected {triple}")
for c in r["checks"]:
    timing = c["kind"] in ("latency", "cold_start", "memory")
    if timing and c["status"] != "not_measured":
        problems.append(f"{c['name']}: {c['status']}, expected not_measured under emulation")
    if not timing and c["severity"] in ("critical", "major") and c["status"] != "pass":
        problems.append(f"{c['name']}: {c['status']} ({c['detail']})")
    if c["kind"] == "parity":
        print(f"parity {c['name']}: " + ", ".join(f"{k} {v:.3e}" for k, v in c.get("values", {}).items()))
if problems:
    print(f"{path}: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{path}: verdict pass on {triple}, timing checks not measured")
PY
}

status=0
for arch in aarch64 armv7; do
  if [ -z "$only" ] || [ "$only" = "$arch" ]; then
    run_arch "$arch" || status=1
  fi
done
exit $status
