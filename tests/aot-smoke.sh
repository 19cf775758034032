#!/usr/bin/env bash
# NativeAOT proof (docs/packaging.md, "NativeAOT"): publishes the rpmsg CLI as a native binary for linux-x64 and
# runs `demo` and `ping` in all three wait modes from it (the simulated remote is the same binary started again);
# then publishes rpmsg and the ARM64 smoke program as NativeAOT for linux-arm64 with Debian's GNU cross toolchain
# (build/NativeAotCrossLinux.targets), checks both are AArch64 ELF files next to an AArch64 shim, and runs the
# smoke under qemu-aarch64-static. A publish fails on any trim/AOT warning (warnings are errors, ILC included).
# Needs: cc, gcc-aarch64-linux-gnu, qemu-user-static, libc6-arm64-cross (.ci/run installs them).
# Bounded: every publish and run has a hard time limit; temporary files are removed on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

. tests/arm64-toolchain.sh
require_arm64_toolchain aot-smoke cc aarch64-linux-gnu-objcopy

out=$repo/artifacts/aot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

fail() { echo "aot-smoke: FAIL: $*" >&2; exit 1; }

# publish PROJECT RID DIR [msbuild args...]: a NativeAOT publish; fails on an error or any warning.
publish() {
  local project=$1 rid=$2 dir=$3
  shift 3
  rm -rf "$dir"
  echo "aot-smoke: publishing $project as NativeAOT for $rid"
  if ! timeout -k 10 1200 dotnet publish "$project" -c Release -r "$rid" -o "$dir" -nologo "$@" >"$work/publish.log" 2>&1; then
    tail -n 30 "$work/publish.log" >&2
    fail "publish of $project for $rid failed"
  fi
  if grep -E ': warning [A-Z]+[0-9]+' "$work/publish.log" >&2; then
    fail "publish of $project for $rid printed warnings"
  fi
}

# elf_machine FILE: the ELF e_machine (62 x86-64, 183 AArch64).
elf_machine() { od -An -tu2 -j18 -N2 "$1" | tr -d ' '; }

# run NAME EXPECT CMD...: runs CMD (bounded) in the scratch folder, requires exit 0 and a line matching EXPECT.
run() {
  local name=$1 expect=$2
  shift 2
  local log="$work/$name.log" code=0
  (cd "$work" && timeout -k 5 120 "$@") >"$log" 2>&1 || code=$?
  if [ "$code" -ne 0 ] || ! grep -qE "$expect" "$log"; then
    cat "$log" >&2
    fail "$name: exit code $code, expected a line matching '$expect'"
  fi
  echo "aot-smoke: PASS $name: $(grep -E "$expect" "$log" | head -n 1)"
}

# --- linux-x64: the native binary does the README's main job. ---
x64=$out/linux-x64
publish src/VirtioRpmsg.Cli linux-x64 "$x64"
[ "$(elf_machine "$x64/rpmsg")" = 62 ] || fail "$x64/rpmsg is not an x86-64 ELF file"
[ ! -e "$x64/rpmsg.dll" ] || fail "$x64 holds rpmsg.dll: not a NativeAOT publish"
run demo '^verified 1000/1000 echoes' "$x64/rpmsg" demo
shm=$(sed -nE 's/^  shared memory: ([^,]+),.*/\1/p' "$work/demo.log")
[ -n "$shm" ] && [ ! -e "$shm" ] || fail "demo: shared-memory file '${shm:-?}' not reported or not removed"
grep -q '^cleanup: remote exited (code 0)' "$work/demo.log" || fail "demo: the remote did not exit with 0"
for wait in interrupt poll hybrid; do
  run "ping-$wait" '^verified 2000/2000 echoes' "$x64/rpmsg" ping --wait "$wait" --count 2000
done
run send '^reply from 0x[0-9A-F]+, 5 bytes: "hello"' "$x64/rpmsg" send --text hello

# --- linux-arm64: cross-published, run under qemu-user. ---
arm64=$out/linux-arm64
publish src/VirtioRpmsg.Cli linux-arm64 "$arm64"
for f in rpmsg libvrpmsg.so; do
  [ "$(elf_machine "$arm64/$f")" = 183 ] || fail "$arm64/$f is not an AArch64 ELF file"
done
# qemu-user does not follow execve, so the two-process demo cannot run here; the smoke below starts its child
# through the emulator (VRPMSG_SMOKE_LAUNCHER). This proves the arm64 binary starts and parses its command line.
run arm64-rpmsg-help '^  rpmsg \[command\] \[options\]' env QEMU_LD_PREFIX="$sysroot" qemu-aarch64-static "$arm64/rpmsg" --help

smoke=$out/arm64-smoke
publish tests/VirtioRpmsg.Arm64Smoke linux-arm64 "$smoke" -p:PublishAot=true
[ "$(elf_machine "$smoke/VirtioRpmsg.Arm64Smoke")" = 183 ] || fail "the smoke program is not an AArch64 ELF file"
echo "aot-smoke: running the NativeAOT ARM64 smoke under qemu-aarch64-static"
QEMU_LD_PREFIX="$sysroot" VRPMSG_SMOKE_LAUNCHER="$(command -v qemu-aarch64-static)" \
  timeout -k 10 300 qemu-aarch64-static "$smoke/VirtioRpmsg.Arm64Smoke" --expect-arch arm64
echo "aot-smoke: passed"
