#!/usr/bin/env bash
# Consumer check: packs the library and the simulation package into a local feed under a version no earlier run used, restores
# samples/EchoConsumer from that feed (package reference, not project reference), builds and runs it.
# A broken package (missing native asset, bad dependency) fails here.
set -euo pipefail
cd "$(dirname "$0")/.."

feed=artifacts/local-feed
version="0.1.0-local.$(date -u +%Y%m%d%H%M%S).$$"
rm -rf "$feed" samples/EchoConsumer/bin samples/EchoConsumer/obj
mkdir -p "$feed"

echo "run-consumer: packing VirtioRpmsg and VirtioRpmsg.Simulation $version"
timeout 600 dotnet pack src/VirtioRpmsg/VirtioRpmsg.csproj -c Release -o "$feed" -p:Version="$version" -nologo -v:quiet
timeout 600 dotnet pack src/VirtioRpmsg.Simulation/VirtioRpmsg.Simulation.csproj -c Release -o "$feed" -p:Version="$version" -nologo -v:quiet

# Drop earlier local builds from the global packages folder (the unique version already rules out a stale one).
packages="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')"
for id in virtiorpmsg virtiorpmsg.simulation; do
  if [ -d "$packages/$id" ]; then
    find "$packages/$id" -mindepth 1 -maxdepth 1 -name '*-local.*' -exec rm -rf {} +
  fi
done

echo "run-consumer: building samples/EchoConsumer against the packed packages"
# The feed is a source for this build alone (no nuget.config names it: a restore with an empty package cache reads
# every source it is given, and the folder exists only while this script runs).
timeout 300 dotnet build samples/EchoConsumer/EchoConsumer.csproj -c Release -p:VirtioRpmsgVersion="$version" \
  -p:RestoreAdditionalProjectSources="$PWD/$feed" -nologo -v:quiet

echo "run-consumer: running"
timeout 60 dotnet samples/EchoConsumer/bin/Release/net10.0/EchoConsumer.dll --expect-version "$version"
