#!/usr/bin/env bash
# The Linux kernel's own rpmsg stack against ours: boots a User-Mode Linux kernel (Debian's linux-source-6.1,
# ARCH=um, built once and cached by tests/kernel-peer/build-uml.sh) whose unmodified virtio_rpmsg_bus,
# rpmsg_ns, rpmsg_char and rpmsg_ctrl drive our vhost-user rpmsg back-end (`rpmsg remote --vhost-user`).
# Guest programs (tests/kernel-peer/guest.c, reached through hostfs) check kernel-created endpoints,
# /dev/rpmsgN read/write, our name-service announce and destroy, 10,000 verified round trips at sizes
# 0..496, and a guest killed mid-traffic followed by a new guest that is served. Also prints the benchmark
# row (kernel rpmsg_char <-> our remote next to our host <-> our remote, same run).
# Prints "N passed, N failed"; exits non-zero on any failure. Every UML process, socket and temporary
# directory it starts is removed on every exit path. See docs/kernel-peer.md.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
here="$repo/tests/kernel-peer"
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# running PID: alive and not a zombie waiting to be reaped.
running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; exit $?; }

# Scratch space: scripts, results, the socket and logs in /tmp (the guest reaches them through hostfs; not
# under /dev, where the guest mounts its own devtmpfs), and UML's physmem file (shared with the back-end) on tmpfs.
work=$(mktemp -d /tmp/kernel-peer.XXXXXX)
shm=$(mktemp -d /dev/shm/kernel-peer.XXXXXX)
guest_pgids=()
remote_pid=""
cleanup() {
  for pg in "${guest_pgids[@]}"; do kill -KILL -- "-$pg" 2>/dev/null; done
  if [ -n "$remote_pid" ]; then
    exec 7>&- 2>/dev/null  # the command pipe: its end makes the remote quit
    for _ in $(seq 50); do kill -0 "$remote_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$remote_pid" 2>/dev/null
  fi
  rm -rf "$shm"
  if [ -n "${KERNEL_PEER_KEEP:-}" ]; then echo "kernel-peer: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo "kernel-peer: interrupted"; exit 130' INT TERM HUP

# ---- build: the kernel (cached), the guest program, the CLI -----------------------------------
# KERNEL_PEER_LINUX=PATH boots that UML kernel instead (one built with the options in build-uml.sh).
if [ -n "${KERNEL_PEER_LINUX:-}" ]; then linux=$KERNEL_PEER_LINUX
elif ! linux=$(bash "$here/build-uml.sh"); then fail "build: User-Mode Linux kernel"; finish; fi
pass "build: User-Mode Linux kernel $linux"
if ! cc -static -O2 -Wall -o "$work/kpguest" "$here/guest.c"; then fail "build: guest program"; finish; fi
if ! dotnet build "$repo/src/VirtioRpmsg.Cli" -c Release -v q -nologo >"$work/build.log" 2>&1; then
  cat "$work/build.log"; fail "build: rpmsg CLI"; finish
fi
rpmsg=(dotnet "$repo/src/VirtioRpmsg.Cli/bin/Release/net10.0/rpmsg.dll")

# ---- our remote on the vhost-user socket ---------------------------------------------------------
sock="$work/vhost-user.sock"
mkfifo "$work/commands"
"${rpmsg[@]}" remote --vhost-user "$sock" --services echo,sink <"$work/commands" >"$work/remote.log" 2>&1 &
remote_pid=$!
exec 7>"$work/commands"
# Waits until a pattern shows up in a file (bounded); the remote's lines and the guests' results arrive this way.
wait_for() { # file pattern seconds
  local deadline=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && return 1
    running "$remote_pid" || return 1
    sleep 0.1
  done
}
remote_cmd() { echo "$1" >&7; }
wait_file() { # path seconds
  local deadline=$((SECONDS + $2))
  until [ -e "$1" ]; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.1; done
}
if ! wait_for "$work/remote.log" "^LISTENING" 60; then cat "$work/remote.log"; fail "remote: listening on $sock"; finish; fi

# ---- guests ------------------------------------------------------------------------------------
# boot NAME COMMAND...: starts a guest in its own process group, its console in $work/NAME/console.log.
boot() {
  local name=$1; shift
  mkdir -p "$work/$name/uml" "$shm/$name"
  cat >"$work/$name/init.sh" <<INIT
#!/bin/sh
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
$*
$work/kpguest poweroff
INIT
  chmod +x "$work/$name/init.sh"
  TMPDIR="$shm/$name" setsid "$linux" mem=64M rootfstype=hostfs rootflags=/ rw init="$work/$name/init.sh" \
    virtio_uml.device="$sock:7" uml_dir="$work/$name/uml" con=null con0=null,fd:1 \
    </dev/null >"$work/$name/console.log" 2>&1 &
  guest_pid=$!
  guest_pgids+=("$guest_pid")
}
# wait_guest SECONDS: waits for the current guest to power off; kills it at the bound.
wait_guest() {
  local deadline=$((SECONDS + $1))
  while running "$guest_pid"; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL -- "-$guest_pid" 2>/dev/null; return 1; fi
    sleep 0.2
  done
  kill -KILL -- "-$guest_pid" 2>/dev/null  # helper processes of a powered-off UML, if any linger
  return 0
}
# results NAME CHECK...: counts the guest's PASS/FAIL lines; a CHECK with no verdict at all is a failure
# (a guest program killed half-way reports nothing for the rest).
results() {
  local name=$1 file="$work/$1/results" check; shift
  if [ ! -s "$file" ]; then fail "$name: the guest reported nothing (console: $work/$name/console.log)"; tail -n 30 "$work/$name/console.log"; return; fi
  while read -r verdict check detail; do
    case "$verdict" in
      PASS) pass "$name $check: $detail" ;;
      FAIL) fail "$name $check: $detail" ;;
    esac
  done <"$file"
  for check in "$@"; do
    grep -qE "^(PASS|FAIL) $check " "$file" || fail "$name $check: no verdict (guest program died?)"
  done
}

# Guest 1: kernel-created endpoints, 10,000 round trips, the benchmark; then our announce/destroy of rpmsg-raw.
boot guest1 "$work/kpguest roundtrips 10000 $work/guest1; $work/kpguest ns $work/guest1"
if wait_for "$work/remote.log" "^LINKUP 1" 60; then
  pass "guest1: virtio_rpmsg_bus probed our device (link up)"
  # Each only once the guest is ready to see it (guest.c watches /dev before it says ns-wait).
  if wait_file "$work/guest1/ns-wait" 240; then remote_cmd "announce rpmsg-raw"; fi
  if wait_file "$work/guest1/ns-ready" 60; then remote_cmd "destroy rpmsg-raw"; fi
else
  fail "guest1: no link up within 60 s"; tail -n 30 "$work/guest1/console.log"
fi
wait_guest 300 || fail "guest1: did not power off within 300 s"
results guest1 ns-echo-announced ctrl-create-ept roundtrips ctrl-destroy-ept ns-announce ns-channel-echo ns-destroy

# Guest 2 is killed (SIGKILL, no goodbye) in the middle of round trips; guest 3 must then be served.
boot guest2 "$work/kpguest loop $work/guest2"
for _ in $(seq 1200); do [ -e "$work/guest2/loop-started" ] && break; running "$guest_pid" || break; sleep 0.1; done
if [ -e "$work/guest2/loop-started" ]; then
  kill -KILL -- "-$guest_pid" 2>/dev/null
  if wait_for "$work/remote.log" "^GUEST 2 GONE" 30; then pass "guest2: killed mid-traffic, our remote dropped its device"
  else fail "guest2: our remote did not notice the killed guest"; fi
else
  fail "guest2: round trips never started"; tail -n 30 "$work/guest2/console.log"
fi
wait_guest 10
boot guest3 "$work/kpguest roundtrips 1000 $work/guest3"
wait_guest 240 || fail "guest3: did not power off within 240 s"
if grep -q "^LINKUP 3" "$work/remote.log"; then pass "guest3: a new guest after the killed one got a fresh device"; else fail "guest3: no link up for the new guest"; fi
results guest3 ns-echo-announced ctrl-create-ept roundtrips ctrl-destroy-ept
grep -q "FAULT" "$work/remote.log" && fail "remote: a guest was refused: $(grep FAULT "$work/remote.log" | head -n 1)"

# The kernel's own complaints: none is allowed. Unpatched, virtio_uml ran queue callbacks in interrupt
# context, so an announcement or destroy from the device reached rpmsg_ns_cb -> device_register there and
# the kernel printed "BUG: scheduling while atomic" (and, from the same event, "vu_interrupt ... enabled
# interrupts"); at times it corrupted the interrupted task or crashed the guest (a CI run: guest 3 hung
# after "Received SIGSEGV in SIGSEGV handler"). build-uml.sh applies our patch
# (tests/kernel-peer/patches/), which runs those callbacks from a work item as remoteproc transports do;
# so any such line, any BUG/Oops/panic/WARNING and any user-process segfault is now a failure.
consoles=("$work"/guest*/console.log)
segv=$(cat "${consoles[@]}" | grep -cE "^[^ ]+\[[0-9]+\]: segfault at")
[ "$segv" -eq 0 ] || fail "guests: $segv user processes segfaulted: $(cat "${consoles[@]}" | grep -E '\]: segfault at' | cut -c1-60 | tr '\n' ';')"
unexpected() { cat "${consoles[@]}" | grep -E "BUG:|Oops|Kernel panic|WARNING:|Received SIGSEGV"; }
other=$(unexpected | grep -c .)
if [ "$other" -eq 0 ]; then pass "kernel logs: no BUG, Oops, panic, WARNING or segfault"
else fail "kernel logs: $other unexpected lines"; unexpected | head -n 5; fi

# ---- benchmark row: our host <-> our remote, same run, same sizes ---------------------------------
kernel_row=$(grep -h "^BENCH" "$work/guest1/results" 2>/dev/null | head -n 1)
host_out=$("${rpmsg[@]}" ping --count 5000 --size 32 2>&1)
host_p50=$(awk '$1 == "p50" {print $2}' <<<"$host_out")
host_p99=$(awk '$1 == "p99" {print $2}' <<<"$host_out")
echo "kernel-peer bench: ${kernel_row:-BENCH kernel-rpmsg_char missing}"
echo "kernel-peer bench: BENCH our-host size=32 count=5000 p50_us=${host_p50:-?} p99_us=${host_p99:-?}"
finish
