#!/usr/bin/env bash
# Cold start and steady-state ping of the rpmsg CLI, JIT against NativeAOT, in one run (docs/benchmarks.md,
# "Cold start"): publishes the NativeAOT CLI for this machine into artifacts/aot/linux-x64 (skipped with
# --no-publish when it is there), builds the JIT CLI, then runs `rpmsg bench --cold-start` from the JIT build,
# which writes docs/benchmarks-cold-start.md (included by the full report). Extra arguments go to
# `rpmsg bench` (e.g. --runs 20, --quick, --out FILE.md).
set -euo pipefail
cd "$(dirname "$0")/.."

rid=linux-x64
[ "$(uname -m)" = aarch64 ] && rid=linux-arm64
aot=artifacts/aot/$rid/rpmsg
publish=1
if [ "${1:-}" = --no-publish ]; then
  publish=0
  shift
fi
if [ "$publish" = 1 ] || [ ! -x "$aot" ]; then
  echo "cold-start: publishing the NativeAOT CLI for $rid"
  timeout -k 10 1200 dotnet publish src/VirtioRpmsg.Cli -c Release -r "$rid" -o "artifacts/aot/$rid" -nologo -v:quiet
fi
echo "cold-start: measuring (JIT: dotnet run -c Release; NativeAOT: $aot)"
timeout -k 10 1800 dotnet run -c Release --project src/VirtioRpmsg.Cli -- bench --cold-start "$aot" "$@"
