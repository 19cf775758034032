#!/usr/bin/env bash
# Builds (once) the User-Mode Linux kernel the kernel-peer test boots, from Debian's linux-source-6.1,
# and prints the path of the cached `linux` binary on stdout (everything else goes to stderr).
# The cache lives outside the clone, keyed by source package version + the config below, so CI and later
# runs on the same machine reuse it. It is published atomically: the kernel is built in a work directory
# beside the cache and renamed into place only once complete, and a cache entry is used only if its stamp
# names the binary's checksum; anything else (an interrupted or corrupted entry) is rebuilt. Concurrent
# callers (a local run and CI) serialise on a lock; the second one then reuses the first's build.
#
# Bounded: the build (unpack, configure, make) runs at idle priority under a time budget,
# VIRTIORPMSG_UML_BUILD_MINUTES (default 90; see docs/kernel-peer.md for measured times), and fails
# with a message naming the budget, not by hanging. A build stopped by its budget (or killed) keeps its
# work directory and the next call resumes it, so a slow machine still gets there over several runs;
# a build that fails otherwise is deleted, so the next call starts from a clean tree.
set -euo pipefail

# The options the unmodified kernel rpmsg stack needs under UML (RPMSG_VIRTIO depends on HAS_DMA,
# which UML only has with the PCI-over-virtio DMA emulation).
options=(VIRTIO_UML UML_PCI_OVER_VIRTIO RPMSG RPMSG_VIRTIO RPMSG_NS RPMSG_CHAR RPMSG_CTRL
         HOSTFS DEVTMPFS DEVTMPFS_MOUNT)
# With UML_PCI_OVER_VIRTIO on, virt-pci wants a virtio device id for its PCI host bridge, or it warns at
# every boot ("No virtio device ID configured for PCI"). The option has no official id (Kconfig: "set the
# one you wish to use for experimentation"); 1234 is unassigned in include/uapi/linux/virtio_ids.h and
# is not 7 (rpmsg), so virt-pci never binds our device; we never offer a device with that id.
# um-host-xstate-size.patch makes room for a host's whole XSAVE area (16 KB; 11008 bytes are in use on a CPU with
# AMX) in the floating-point buffers, which sit on kernel stacks: in thread_info at each stack's base, and in the
# register copies the host signal handlers keep on the irq stack. 64 KB stacks instead of 16 KB.
values=(UML_PCI_OVER_VIRTIO_DEVICE_ID=1234 KERNEL_STACK_ORDER=4)
# Our own patches to the kernel's UML transport (not to rpmsg), applied in name order; see the header of
# each and docs/kernel-peer.md. Their contents are part of the cache key.
patches=("$(cd "$(dirname "$0")" && pwd)"/patches/*.patch)

log() { echo "build-uml: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

missing=()
dpkg-query -W -f='${Status}' linux-source-6.1 2>/dev/null | grep -q 'ok installed' || missing+=(linux-source-6.1)
for tool in flex bison bc make xz patch; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ -e /usr/include/libelf.h ] || missing+=(libelf-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  # 'make' and 'xz' are command names; map them to their packages.
  pkgs=()
  for p in "${missing[@]}"; do case "$p" in xz) pkgs+=(xz-utils) ;; *) pkgs+=("$p") ;; esac; done
  log "installing ${pkgs[*]}"
  { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >&2; } \
    || die "could not install ${pkgs[*]} (apt-get needs root and a package source)"
fi

version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || die "no /usr/src/linux-source-6.1.tar.* after installing linux-source-6.1"
config_hash=$({ printf '%s\n' "${options[@]}" "${values[@]}"; cat "${patches[@]}"; } | sha256sum | cut -c1-12)
cache_root=${VIRTIORPMSG_UML_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/virtiorpmsg}
key="uml-$version-$config_hash"
cache="$cache_root/$key"
budget_min=${VIRTIORPMSG_UML_BUILD_MINUTES:-90}

# valid: the entry is complete (published by the rename below) and its binary is the one it was built as.
valid() {
  [ -x "$cache/linux" ] && [ -f "$cache/stamp" ] && [ -f "$cache/config" ] || return 1
  local want
  want=$(sed -n 's/^sha256 //p' "$cache/stamp")
  [ -n "$want" ] && [ "$(sha256sum <"$cache/linux" | cut -d' ' -f1)" = "$want" ]
}
reuse() { log "reusing $cache/linux"; echo "$cache/linux"; exit 0; }

valid && reuse

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
if ! flock -n 9; then
  log "another build of $key is running; waiting for it (at most $budget_min min)"
  flock -w $((budget_min * 60)) 9 || die "the other build of $key did not finish within $budget_min min"
fi
valid && reuse  # the other build finished it
if [ -e "$cache" ]; then
  log "$cache is incomplete or corrupted (no stamp, or the binary does not match it); rebuilding"
  rm -rf "$cache"
fi
# The work directory (we hold the lock, so nobody else is using it): resumed when it was unpacked and
# configured completely, otherwise started afresh. Older per-run directories (.building-KEY.XXXXXX) go.
build="$cache_root/.building-$key"
tree="$build/src"
buildlog="$build/build.log"
rm -rf "$build".*
spent=0
if [ -e "$build/configured" ] && [ -f "$tree/.config" ]; then
  spent=$(cat "$build/spent" 2>/dev/null || echo 0)
  log "resuming the build in $build ($((spent / 60)) min spent on it so far)"
else
  rm -rf "$build"
  avail_kb=$(df -Pk "$cache_root" | awk 'NR == 2 {print $4}')
  [ "${avail_kb:-0}" -ge $((3 * 1024 * 1024)) ] || die "less than 3 GB free in $cache_root (the source tree needs ~2 GB)"
  mkdir -p "$tree"
fi
touch "$buildlog"
# Kept only when the budget ran out (or the script was killed): then the next call resumes it.
keep=0
trap '[ "$keep" = 1 ] || rm -rf "$build"' EXIT
deadline=$((SECONDS + budget_min * 60))
# bounded CMD...: runs CMD at idle priority with what is left of the budget; timeout signals the whole
# process group (make and its compilers), and kills it 30 s later if it is still there.
bounded() {
  local left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || return 124
  timeout --kill-after=30 "$left" nice -n 19 ionice -c3 "$@" >>"$buildlog" 2>&1
}
start=$SECONDS
failed() { # step status
  cp "$buildlog" "$cache_root/$key.failed.log" 2>/dev/null || true
  local total=$(((spent + SECONDS - start) / 60))
  if [ "$2" -eq 124 ] || [ "$2" -eq 137 ]; then
    # make removes the targets it was writing when signalled, so the objects kept are whole.
    if [ -e "$build/configured" ]; then keep=1; echo $((spent + SECONDS - start)) >"$build/spent"; fi
    die "$1 ran out of its time budget ($budget_min min, VIRTIORPMSG_UML_BUILD_MINUTES; $total min spent in all); nothing was cached$([ "$keep" = 1 ] && echo "; the partial build is kept in $build and the next run resumes it"). Log: $cache_root/$key.failed.log"
  fi
  tail -n 30 "$buildlog" >&2
  die "$1 failed (exit $2) after $total min; nothing was cached and the work directory was removed (the next run starts clean). Log: $cache_root/$key.failed.log"
}

if [ ! -e "$build/configured" ]; then
  log "unpacking $tarball (package version $version) into $tree"
  bounded tar -xf "$tarball" -C "$tree" --strip-components=1 || failed "unpacking the kernel source" $?
  cd "$tree"
  for p in "${patches[@]}"; do
    log "applying $(basename "$p")"
    bounded patch -p1 --forward -i "$p" || failed "applying $(basename "$p")" $?
  done
  bounded make ARCH=um defconfig || failed "make defconfig" $?
  for option in "${options[@]}"; do scripts/config --enable "$option"; done
  for value in "${values[@]}"; do scripts/config --set-val "${value%%=*}" "${value#*=}"; done
  bounded make ARCH=um olddefconfig || failed "make olddefconfig" $?
  for option in "${options[@]}"; do
    grep -q "^CONFIG_$option=y$" .config || die "CONFIG_$option did not stick after olddefconfig"
  done
  for value in "${values[@]}"; do
    grep -q "^CONFIG_$value$" .config || die "CONFIG_$value did not stick after olddefconfig"
  done
  touch "$build/configured"
  # From here a killed run leaves a tree the next one resumes (the EXIT trap does not run on SIGKILL).
fi
cd "$tree"
jobs=${UML_BUILD_JOBS:-2}
log "building linux with -j$jobs at idle priority, budget $budget_min min (log: $buildlog)"
bounded make -j"$jobs" ARCH=um linux || failed "make linux" $?

# Publish: binary, config and stamp (with the binary's checksum) into a directory that is renamed into place.
stage="$build/$key"
mkdir "$stage"
cp linux "$stage/linux"
cp .config "$stage/config"
printf 'linux-source-6.1 %s\noptions %s\nvalues %s\npatches %s\nbuild_seconds %s\nsha256 %s\n' "$version" "${options[*]}" \
  "${values[*]}" "$(for p in "${patches[@]}"; do basename "$p"; done | tr '\n' ' ')" $((spent + SECONDS - start)) "$(sha256sum <"$stage/linux" | cut -d' ' -f1)" >"$stage/stamp"
cd "$cache_root"
mv -T "$stage" "$cache"
rm -f "$cache_root/$key.failed.log"
log "built $cache/linux in $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s$([ "$spent" -gt 0 ] && echo " (plus $((spent / 60)) min in earlier runs)")"
echo "$cache/linux"
