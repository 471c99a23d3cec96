#!/usr/bin/env bash
# Builds preflight for aarch64 and armv7 Linux without Docker and runs it on the default
# bundle under qemu-user.
#
#   tools/arm-emulate.sh [--only aarch64|armv7] [--skip-install]
#
# Needs Debian 12 and root (for apt). Uses Debian's rustc/cargo 1.96 (rustc-web, cargo-web,
# from bookworm-security) by absolute path; a rustup toolchain earlier on PATH stays the one
# for host builds and tests.
#  - aarch64: Debian's prebuilt standard library (libstd-rust-web-dev:arm64), linker
#    aarch64-linux-gnu-gcc.
#  - armv7: Debian packages no 1.96 armhf standard library, so it is built from rust-web-src
#    (which links the sources at $(rustc --print sysroot)/lib/rustlib/src/rust, where cargo
#    looks) with -Zbuild-std; RUSTC_BOOTSTRAP=1 lets the stable toolchain take the flag.
#    std's own dependencies come from crates.io. Linker arm-linux-gnueabihf-gcc.
# tract-linalg assembles its ARM kernels through the cc crate, so the C cross compilers are
# needed for the build, not only for linking.
#
# Each binary runs `preflight run --format json` on astronaut.png (must find exactly one face,
# score >= 0.75), then `preflight check BUNDLE --tier emulated --target
# qemu-<arch>` for every bundle in ARM_BUNDLES (default: BlazeFace, the three PP-OCR models and
# YOLOv8n; the fetched ones need `python3 tools/fetch_ppocr.py` first, with the same
# PREFLIGHT_MODELS).
# An emulated suite holds the boot suite's decision and parity checks on a few cases and no
# timing checks: qemu makes every inference ~100x slower. Each must pass with every critical
# and major check holding; the parity figures are printed. Reports land in
# reports/arm/<arch>-<bundle>.{json,xml,txt}, reports/arm/<arch>-run.json and
# reports/arm/<arch>-emulate.log. The two architectures build one after the other and are
# emulated side by side.
#
# Emulated CPUs: qemu-user shows the program the host's /proc/cpuinfo, and its default CPU
# ("max") advertises SVE/SME, which no supported board has. So aarch64 runs as a Cortex-A72
# (Pi 4; same ISA features as the Pi Zero 2 W's A53) and armv7 as a Cortex-A15 with tract told
# NEON is there (TRACT_CPU_ARM32_NEON=true), as it finds on a Pi; otherwise tract would take its
# VFPv2 fallback kernels. Override with QEMU_CPU_AARCH64 / QEMU_CPU_ARMV7.
#
# Outputs: target-arm/aarch64-unknown-linux-gnu/<profile>/preflight and, in a target dir of its
# own, target-arm/build-std/armv7-unknown-linux-gnueabihf/<profile>/preflight. RUSTC_BOOTSTRAP=1
# makes proc-macro2, anyhow and thiserror switch on nightly features and rerun their build
# scripts whenever it changes, so in one shared target dir each armv7 build invalidated the
# aarch64 one and the other way round (everything from proc-macro2 up rebuilt, ~20 min each).
#
# Environment: CARGO_TARGET_DIR_ARM (default target-arm/), ARM_PROFILE (cargo profile,
# default dev: optimized by Cargo.toml and faster to build than release), ARM_BUNDLES.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() { echo "usage: $0 [--only aarch64|armv7] [--skip-install]" >&2; exit 2; }
archs=(aarch64 armv7)
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --only)
      [ $# -ge 2 ] || usage
      case "$2" in aarch64 | armv7) archs=("$2") ;; *) usage ;; esac
      shift 2 ;;
    --skip-install) install=0; shift ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done

now() { date +%s; }
dur() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
say() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
summary=()
note() { summary+=("$1"); echo "$1"; }
wants() { local a; for a in "${archs[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }

# --- packages --------------------------------------------------------------------------------
if [ "$install" = 1 ]; then
  t=$(now)
  say "Debian packages"
  # ca-certificates: cargo fetches crates over TLS (a Recommends of libcurl, not a Depends).
  pkgs=(rustc-web cargo-web ca-certificates qemu-user-static python3)
  if wants aarch64; then
    pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstd-rust-web-dev:arm64)
  fi
  if wants armv7; then
    pkgs+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross rust-web-src)
  fi
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "all installed: ${pkgs[*]}"
  else
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    if printf '%s\n' "${missing[@]}" | grep -q ':arm64$' &&
      ! dpkg --print-foreign-architectures | grep -qx arm64; then
      dpkg --add-architecture arm64
      apt-get update -q
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  note "install: $(dur $(($(now) - t)))"
fi

# --- toolchain -------------------------------------------------------------------------------
# Debian's toolchain whatever else is on PATH (cargo runs $RUSTC; build scripts get it too).
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
cargo=/usr/bin/cargo
for x in "$RUSTC" "$cargo"; do
  [ -x "$x" ] || { echo "$x missing: install rustc-web and cargo-web (drop --skip-install)" >&2; exit 1; }
done
"$RUSTC" --version
"$cargo" --version
# bookworm itself has 1.85; 1.96 comes from bookworm-security (in a default sources list).
minor=$("$RUSTC" --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
[ "$minor" -ge 91 ] || { echo "$RUSTC is older than the crate's rust-version 1.91: is bookworm-security in the apt sources?" >&2; exit 1; }
# ARM outputs apart from the host's target/, so neither build waits for the other's lock.
arm_target_dir="${CARGO_TARGET_DIR_ARM:-$root/target-arm}"
profile="${ARM_PROFILE:-dev}"
outdir=$([ "$profile" = dev ] && echo debug || echo "$profile")
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc
# The cache of decluttered graphs proves each entry by running the model twice more when it
# writes one: minutes under qemu for the PP-OCR widths, and emulated timings mean nothing.
export PREFLIGHT_DECLUTTER_CACHE=off
mkdir -p reports/arm
read -r -a bundles <<<"${ARM_BUNDLES:-models/blazeface models/ppocr-det models/ppocr-cls models/ppocr-rec models/yolov8n}"

# --- one architecture ------------------------------------------------------------------------
# Per architecture: triple, qemu, sysroot, CPU model, the environment tract needs to pick the
# board's kernels, and where its build lands.
arch_vars() {
  case "$1" in
    aarch64)
      triple=aarch64-unknown-linux-gnu qemu=qemu-aarch64-static sysroot=/usr/aarch64-linux-gnu
      cc=aarch64-linux-gnu-gcc
      cpu=${QEMU_CPU_AARCH64:-cortex-a72}
      run_env=(TRACT_CPU_AARCH64_KIND=a72)
      tdir="$arm_target_dir" build_env=() build_flags=() ;;
    armv7)
      triple=armv7-unknown-linux-gnueabihf qemu=qemu-arm-static sysroot=/usr/arm-linux-gnueabihf
      cc=arm-linux-gnueabihf-gcc
      cpu=${QEMU_CPU_ARMV7:-cortex-a15}
      run_env=(TRACT_CPU_ARM32_NEON=true)
      tdir="$arm_target_dir/build-std"
      build_env=(RUSTC_BOOTSTRAP=1)
      build_flags=("-Zbuild-std=std,panic_abort") ;;
  esac
  bin="$tdir/$triple/$outdir/preflight"
}

build_arch() {
  local arch=$1 triple qemu sysroot cpu tdir bin t code cc
  local -a build_env build_flags run_env
  arch_vars "$arch"
  case "$arch" in
    aarch64)
      [ -d "$("$RUSTC" --print sysroot)/lib/rustlib/$triple/lib" ] || {
        echo "no $triple standard library for $RUSTC: install libstd-rust-web-dev:arm64" >&2
        return 1
      } ;;
    armv7)
      local src
      src="$("$RUSTC" --print sysroot)/lib/rustlib/src/rust/library"
      [ -f "$src/std/Cargo.toml" ] || { echo "no std sources at $src: install rust-web-src" >&2; return 1; } ;;
  esac
  say "build $triple ($profile profile)"
  t=$(now)
  code=0
  env CARGO_TARGET_DIR="$tdir" "${build_env[@]}" "$cargo" build --locked --profile "$profile" \
    --target "$triple" --bin preflight "${build_flags[@]}" || code=$?
  note "build $arch: $(dur $(($(now) - t)))$([ $code = 0 ] || echo ", FAILED (exit $code)")"
  [ $code = 0 ] || return 1
  if command -v file >/dev/null; then file -b "$bin" | cut -c1-100; fi
  # Firmware in C: the static library and the C example, linked as on the board.
  say "build $triple: libpreflight.a (capi) and examples/c/firmware.c"
  t=$(now)
  code=0
  env CARGO_TARGET_DIR="$tdir" "${build_env[@]}" "$cargo" rustc --locked --profile "$profile" \
    --target "$triple" --lib --features capi --crate-type staticlib "${build_flags[@]}" || code=$?
  [ $code = 0 ] && { "$cc" -Wall -Wextra -Werror examples/c/firmware.c -Iinclude \
    "$(dirname "$bin")/libpreflight.a" -lm -lpthread -ldl -o "$(dirname "$bin")/firmware-c" || code=$?; }
  note "build C $arch: $(dur $(($(now) - t)))$([ $code = 0 ] || echo ", FAILED (exit $code)")"
  [ $code = 0 ] || return 1
}

# Runs the binary under qemu: a `run` on astronaut.png, then each bundle's emulated suite
# ([suites] emulated, models/*/suite-emulated.toml: decisions and parity, no timing) with --target qemu-<arch>.
emulate_arch() {
  local arch=$1 triple qemu sysroot cpu tdir bin t code bundle cc
  local -a build_env build_flags run_env
  arch_vars "$arch"
  local -a emu=(env "${run_env[@]}" "$qemu" -cpu "$cpu" -L "$sysroot" "$bin")

  say "$arch: preflight run under $qemu -cpu $cpu"
  t=$(now)
  code=0
  "${emu[@]}" run models/blazeface models/blazeface/cases/astronaut.png --format json \
    >"reports/arm/$arch-run.json" || code=$?
  note "run $arch: $(dur $(($(now) - t))), exit $code"
  [ $code = 0 ] || return 1
  python3 - "reports/arm/$arch-run.json" "$arch" <<'PY' || return 1
import json, sys
path, arch = sys.argv[1], sys.argv[2]
dets = json.load(open(path))["results"][0]["detections"]
desc = ", ".join(f"score {d['score']:.4f} box {d['box']}" for d in dets) or "none"
print(f"astronaut.png on {arch}: {len(dets)} detection(s): {desc}")
if len(dets) != 1 or dets[0]["score"] < 0.75:
    sys.exit(f"{path}: expected exactly one detection with score >= 0.75")
PY

  # The C example on the board's static library: the default bundle with its emulated suite as
  # the boot suite (the full boot suite's latency runs mean nothing under qemu, and take long).
  say "$arch: C firmware example under $qemu"
  local cbundle="reports/arm/$arch-c-bundle"
  rm -rf "$cbundle" && cp -r models/blazeface "$cbundle"
  sed -i 's/^boot = "suite.toml"/boot = "suite-emulated.toml"/' "$cbundle/bundle.toml"
  python3 tools/png_to_pnm.py models/blazeface/cases/astronaut.png "reports/arm/$arch-astronaut.ppm"
  t=$(now)
  code=0
  env "${run_env[@]}" "$qemu" -cpu "$cpu" -L "$sysroot" "$(dirname "$bin")/firmware-c" "$cbundle" \
    "reports/arm/$arch-astronaut.ppm" >"reports/arm/$arch-firmware-c.txt" || code=$?
  cat "reports/arm/$arch-firmware-c.txt"
  note "C example $arch: $(dur $(($(now) - t))), exit $code"
  if [ $code != 0 ] || ! grep -q "^verdict: pass" "reports/arm/$arch-firmware-c.txt" ||
    ! grep -q "astronaut.ppm: 1 detection" "reports/arm/$arch-firmware-c.txt"; then
    note "C example $arch: FAILED"
    return 1
  fi

  local failed=0
  for bundle in "${bundles[@]}"; do
    local name out
    name=$(basename "$bundle")
    out="reports/arm/$arch-$name"
    say "$arch: preflight check $bundle --tier emulated --target qemu-$arch"
    t=$(now)
    code=0
    "${emu[@]}" check "$bundle" --tier emulated --target "qemu-$arch" \
      --report "$out.json" --junit "$out.xml" >"$out.txt" || code=$?
    cat "$out.txt"
    note "check $arch $name: $(dur $(($(now) - t))), exit $code"
    if [ $code != 0 ] || ! python3 - "$out.json" "$triple" <<'PY'; then
import json, sys
path, triple = sys.argv[1], sys.argv[2]
r = json.load(open(path))
problems = []
if r.get("verdict") != "pass":
    problems.append(f"verdict {r.get('verdict')}")
host = r.get("host", {}).get("triple")
if host != triple:
    problems.append(f"host triple {host}, expected {triple}")
checks = r.get("checks", [])
if not any(c.get("kind") == "parity" for c in checks):
    problems.append("no parity check ran")
for c in checks:
    timing = c.get("kind") in ("latency", "cold_start", "memory")
    if timing and c.get("status") != "not_measured":
        problems.append(f"{c.get('name')}: {c.get('status')}, expected not_measured under emulation")
    if not timing and c.get("severity") in ("critical", "major") and c.get("status") != "pass":
        problems.append(f"{c.get('name')}: {c.get('status')} ({c.get('detail')})")
    if c.get("kind") == "parity":
        vals = c.get("values") or {}
        print(f"parity {c.get('name')}: " + ", ".join(
            f"{k} {v:.3e}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in vals.items()))
if problems:
    sys.exit(f"{path}: " + "; ".join(problems))
print(f"{path}: verdict pass on {triple}, every critical and major check holds")
PY
      failed=1
      note "check $arch $name: FAILED"
    fi
  done
  return $failed
}

# Builds one after the other (each uses every core), then the emulated runs side by side
# (qemu-user runs one thread per process), each logging to reports/arm/<arch>-emulate.log.
status=0
built=()
for arch in "${archs[@]}"; do
  if build_arch "$arch"; then built+=("$arch"); else status=1; note "$arch: build FAILED"; fi
done
pids=()
for arch in "${built[@]}"; do
  (
    summary=()
    code=0
    emulate_arch "$arch" || code=$?
    printf '%s\n' "${summary[@]}" >"reports/arm/$arch-summary.txt"
    exit $code
  ) >"reports/arm/$arch-emulate.log" 2>&1 &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  arch=${built[$i]}
  code=0
  wait "${pids[$i]}" || code=$?
  say "emulated runs on $arch (reports/arm/$arch-emulate.log)"
  cat "reports/arm/$arch-emulate.log"
  while IFS= read -r line; do summary+=("$line"); done <"reports/arm/$arch-summary.txt"
  [ $code = 0 ] || { status=1; note "$arch: emulated runs FAILED"; }
done
say "summary"
printf '%s\n' "${summary[@]}" | tee reports/arm/summary.txt
exit $status
