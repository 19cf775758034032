#!/usr/bin/env bash
# ARM64 proof: publishes tests/VirtioRpmsg.Arm64Smoke self-contained for linux-arm64 (the build
# cross-compiles the native shim with aarch64-linux-gnu-gcc) and runs it under qemu-aarch64-static.
# Needs: gcc-aarch64-linux-gnu, qemu-user-static, libc6-arm64-cross (.ci/run installs them).
# Bounded: publish and run each have a hard time limit; exits non-zero on any failed check.
set -euo pipefail
cd "$(dirname "$0")/.."

. tests/arm64-toolchain.sh
require_arm64_toolchain arm64-smoke

out=artifacts/arm64-smoke
rm -rf "$out"
echo "arm64-smoke: publishing for linux-arm64"
timeout 600 dotnet publish tests/VirtioRpmsg.Arm64Smoke/VirtioRpmsg.Arm64Smoke.csproj \
  -c Release -r linux-arm64 --self-contained -o "$out" -nologo -v:quiet

echo "arm64-smoke: running under qemu-aarch64-static"
# No ARM64 libicu in the sysroot: invariant globalization. The launcher lets the program start
# child processes through the emulator too (qemu-user does not follow execve by itself).
DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
QEMU_LD_PREFIX="$sysroot" \
VRPMSG_SMOKE_LAUNCHER="$(command -v qemu-aarch64-static)" \
  timeout 300 qemu-aarch64-static "$out/VirtioRpmsg.Arm64Smoke" --expect-arch arm64
