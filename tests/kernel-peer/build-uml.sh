#!/usr/bin/env bash
# Builds (once) the User-Mode Linux kernel the kernel-peer test boots, from Debian's linux-source-6.1,
# and prints the path of the cached `linux` binary on stdout (everything else goes to stderr).
# The cache lives outside the clone, keyed by source package version + the config options below, so
# CI and later runs reuse it; the 2 GB source tree is deleted once the binary is built.
set -euo pipefail

# The options the unmodified kernel rpmsg stack needs under UML (RPMSG_VIRTIO depends on HAS_DMA,
# which UML only has with the PCI-over-virtio DMA emulation).
options=(VIRTIO_UML UML_PCI_OVER_VIRTIO RPMSG RPMSG_VIRTIO RPMSG_NS RPMSG_CHAR RPMSG_CTRL
         HOSTFS DEVTMPFS DEVTMPFS_MOUNT)

log() { echo "build-uml: $*" >&2; }

missing=()
dpkg-query -W -f='${Status}' linux-source-6.1 2>/dev/null | grep -q 'ok installed' || missing+=(linux-source-6.1)
for tool in flex bison bc make xz; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ -e /usr/include/libelf.h ] || missing+=(libelf-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  # 'make' and 'xz' are command names; map them to their packages.
  pkgs=()
  for p in "${missing[@]}"; do case "$p" in xz) pkgs+=(xz-utils) ;; *) pkgs+=("$p") ;; esac; done
  log "installing ${pkgs[*]}"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2
fi

version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || { log "no /usr/src/linux-source-6.1.tar.* after installing linux-source-6.1"; exit 1; }
config_hash=$(printf '%s\n' "${options[@]}" | sha256sum | cut -c1-12)
cache_root=${VIRTIORPMSG_UML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/virtiorpmsg}
cache="$cache_root/uml-$version-$config_hash"
binary="$cache/linux"

if [ -x "$binary" ] && [ -e "$cache/stamp" ]; then
  log "reusing $binary"
  echo "$binary"
  exit 0
fi

mkdir -p "$cache"
tree="$cache/src"
# A build that was interrupted (the machine was busy, the job was killed) resumes from its objects:
# the tree is reused once it was unpacked and configured completely ("configured" stamp).
if [ -e "$cache/configured" ] && [ -f "$tree/.config" ]; then
  log "resuming the interrupted build in $tree"
  cd "$tree"
else
  rm -rf "$tree" "$cache/configured"
  mkdir -p "$tree"
  log "unpacking $tarball (package version $version) into $tree"
  tar -xf "$tarball" -C "$tree" --strip-components=1
  cd "$tree"
  make ARCH=um defconfig >&2
  for option in "${options[@]}"; do scripts/config --enable "$option"; done
  make ARCH=um olddefconfig >&2
  for option in "${options[@]}"; do
    grep -q "^CONFIG_$option=y" .config || { log "CONFIG_$option did not stick after olddefconfig"; exit 1; }
  done
  touch "$cache/configured"
fi
jobs=${UML_BUILD_JOBS:-2}
log "building linux with -j$jobs at idle priority (about 12 min on 2 cores)"
nice -n 19 ionice -c3 make -j"$jobs" ARCH=um linux >&2

cp linux "$binary.tmp"
cp .config "$cache/config"
mv "$binary.tmp" "$binary"
cd "$cache"
rm -rf "$tree" "$cache/configured"
printf 'linux-source-6.1 %s\noptions %s\n' "$version" "${options[*]}" > "$cache/stamp"
log "built $binary"
echo "$binary"
