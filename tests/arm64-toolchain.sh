# Sourced by tests/arm64-smoke.sh and tests/aot-smoke.sh: checks the ARM64 cross toolchain and qemu-user are
# installed (.ci/run installs them) and sets $sysroot, the AArch64 C library that qemu runs programs against.
# require_arm64_toolchain NAME [TOOL...]: exits 1 with the apt-get line when a tool or the C library is missing.
sysroot=/usr/aarch64-linux-gnu
require_arm64_toolchain() {
  local name=$1 tool
  shift
  for tool in aarch64-linux-gnu-gcc qemu-aarch64-static "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$name: '$tool' not found (apt-get install gcc gcc-aarch64-linux-gnu qemu-user-static libc6-arm64-cross)" >&2
      exit 1
    fi
  done
  if [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
    echo "$name: no AArch64 C library under $sysroot (apt-get install libc6-arm64-cross)" >&2
    exit 1
  fi
}
