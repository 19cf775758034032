#!/usr/bin/env bash
# Runs this project's rpmsg tool against OpenAMP's real Linux-userspace demo apps (rpmsg-echo, the
# virtio device, and rpmsg-echo-ping, the driver), both roles and every wait mode, and prints one
# markdown table row per case. Not part of the test run: it needs an OpenAMP build made outside the
# repository as docs/interop.md ("Verified against the real OpenAMP demo apps") describes.
#
#   tests/interop/openamp-real.sh [--count N] [--size BYTES] [--modes "interrupt poll hybrid"]
#                                 [--cases "ping send openamp-ping"] [--rpmsg "COMMAND"] [--no-build]
#                                 [--out FILE] OPENAMP_ROOT
#
# OPENAMP_ROOT holds libmetal/, open-amp/ and openamp-system-reference/ built as documented: the apps
# in openamp-system-reference/examples/legacy_apps/build/examples/echo, the shared libraries in
# target/lib. Every step is bounded; processes it started, /dev/shm/openamp.shm and the doorbell
# socket /tmp/openamp.event.0 are removed on every exit path (Ctrl+C and SIGTERM included).
set -uo pipefail

count=2000
size=64
modes="interrupt poll hybrid"
cases="ping send openamp-ping"
rpmsg=""
build=1
out=""
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --cases) cases="$2"; shift 2 ;;
    --rpmsg) rpmsg="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "openamp-real: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) root="$1"; shift ;;
  esac
done
if [ -z "$root" ]; then
  echo "openamp-real: OPENAMP_ROOT missing (the folder with the OpenAMP build; see --help)" >&2
  exit 2
fi

repo="$(cd "$(dirname "$0")/../.." && pwd)"
apps="$root/openamp-system-reference/examples/legacy_apps/build/examples/echo"
libs="$root/target/lib"
echo_app="$apps/rpmsg-echo-shared"
ping_app="$apps/rpmsg-echo-ping-shared"
for f in "$echo_app" "$ping_app"; do
  if [ ! -x "$f" ]; then
    echo "openamp-real: '$f' not found or not executable (build the legacy apps first)" >&2
    exit 2
  fi
done
shm=/dev/shm/openamp.shm
sock=/tmp/openamp.event.0
service=rpmsg-openamp-demo-channel
host_json="$repo/docs/platforms/openamp-linux-host.json"
remote_json="$repo/docs/platforms/openamp-linux-remote.json"
work="$(mktemp -d /tmp/openamp-real.XXXXXX)"
pids=()

. "$repo/tests/interop/real-peer-lib.sh"
trap on_exit EXIT
trap 'echo "openamp-real: interrupted" >&2; exit 130' INT TERM

if [ -z "$rpmsg" ]; then
  if [ "$build" = 1 ]; then
    echo "openamp-real: building the rpmsg tool (Release)" >&2
    timeout 900 dotnet build "$repo/src/VirtioRpmsg.Cli" -c Release -nologo -v:quiet >"$work/build.log" 2>&1 \
      || { cat "$work/build.log" >&2; echo "openamp-real: build failed" >&2; exit 1; }
  fi
  rpmsg="dotnet $repo/src/VirtioRpmsg.Cli/bin/Release/net10.0/rpmsg.dll"
fi
# shellcheck disable=SC2206 # the command is a word list on purpose
rpmsg_cmd=($rpmsg)
remote_echo=()
if "${rpmsg_cmd[@]}" remote --help 2>/dev/null | grep -q -- '--echo'; then
  remote_echo=(--echo "$service")
fi

oa_version="$(cd "$root/open-amp" 2>/dev/null && git describe --tags 2>/dev/null || echo unknown)"
row() {
  local line="| $1 | $oa_version | $2 | $3 | $4 | $5 |"
  echo "$line"
  if [ -n "$out" ]; then echo "$line" >>"$out"; fi
}
note() { echo "    $*" >&2; }

# Starts OpenAMP's echo remote (it writes the resource table, creates the socket, waits for a host).
start_openamp_echo() {
  rm -f "$shm" "$sock"
  LD_LIBRARY_PATH="$libs" "$echo_app" </dev/null >"$work/echo.log" 2>&1 &
  echo_pid=$!
  pids+=("$echo_pid")
  wait_for_socket "$echo_pid" || { note "rpmsg-echo did not create $sock"; return 1; }
}

# Our host: `rpmsg ping` against OpenAMP's rpmsg-echo.
case_ping() {
  local mode="$1" pid rc verified p50 p99 err
  start_openamp_echo || { row "OpenAMP rpmsg-echo (remote)" "our ping -> OpenAMP" "$mode" "no peer" "-"; cleanup; return; }
  timeout -k 5 180 "${rpmsg_cmd[@]}" ping --platform "$host_json" --service "$service" \
    --count "$count" --size "$size" --wait "$mode" >"$work/ping.out" 2>"$work/ping.err" </dev/null &
  pid=$!; pids+=("$pid"); wait "$pid"; rc=$?
  verified="$(sed -n 's/^verified \([0-9]*\/[0-9]*\).*/\1/p' "$work/ping.out")"
  p50="$(awk '$1=="p50"{print $2}' "$work/ping.out")"
  p99="$(awk '$1=="p99"{print $2}' "$work/ping.out")"
  err="$(head -n 1 "$work/ping.err")"
  if [ "$rc" = 0 ] && [ -n "$verified" ]; then
    row "OpenAMP rpmsg-echo (remote)" "our \`ping\` -> OpenAMP, $size B" "$mode" "$verified" "$p50 / $p99 us"
  else
    row "OpenAMP rpmsg-echo (remote)" "our \`ping\` -> OpenAMP, $size B" "$mode" "0/$count (exit $rc: ${err:-no output})" "-"
  fi
  cleanup
}

# Our host: `rpmsg send --text hello` gets its echo; with the OpenAMP shutdown word the echo app
# destroys its endpoint and exits, and send must still exit 0 (no reply is not a failure).
case_send() {
  local mode="$1" pid rc err echo_rc
  start_openamp_echo || { row "OpenAMP rpmsg-echo (remote)" "our send -> OpenAMP" "$mode" "no peer" "-"; cleanup; return; }
  timeout -k 5 60 "${rpmsg_cmd[@]}" send --platform "$host_json" --service "$service" --text hello \
    --wait "$mode" >"$work/send.out" 2>"$work/send.err" </dev/null &
  pid=$!; pids+=("$pid"); wait "$pid"; rc=$?
  err="$(head -n 1 "$work/send.err")"
  if [ "$rc" = 0 ] && grep -q '5 bytes: "hello"' "$work/send.out"; then
    row "OpenAMP rpmsg-echo (remote)" "our \`send --text hello\` -> OpenAMP" "$mode" "1/1" "-"
  else
    row "OpenAMP rpmsg-echo (remote)" "our \`send --text hello\` -> OpenAMP" "$mode" "0/1 (exit $rc: ${err:-no reply})" "-"
  fi
  cleanup

  start_openamp_echo || { cleanup; return; }
  # 0xEF56A55A, little-endian: the echo app's shutdown word.
  timeout -k 5 60 "${rpmsg_cmd[@]}" send --platform "$host_json" --service "$service" --hex 5aa556ef \
    --wait "$mode" >"$work/send.out" 2>"$work/send.err" </dev/null &
  pid=$!; pids+=("$pid"); wait "$pid"; rc=$?
  err="$(head -n 1 "$work/send.err")"
  wait_exit "$echo_pid" 50; echo_rc="$exit_rc"
  if [ "$rc" = 0 ] && [ "$echo_rc" = 0 ]; then
    row "OpenAMP rpmsg-echo (remote)" "our \`send\` shutdown word, service goes away" "$mode" "1/1 (send exit 0, echo app exit 0)" "-"
  else
    row "OpenAMP rpmsg-echo (remote)" "our \`send\` shutdown word, service goes away" "$mode" "0/1 (send exit $rc: ${err:-}; echo app: $echo_rc)" "-"
  fi
  cleanup
}

# OpenAMP's host: rpmsg-echo-ping (payloads of 17..496 bytes, one round trip at a time) against
# `rpmsg remote`. The round trip is timed from the app's own log lines ("sending payload number N"
# to "received payload number N"), read line-buffered through a pipe: an approximation that
# includes a printf and the pipe.
case_openamp_ping() {
  local mode="$1" remote_pid ping_pid stamp_pid rc received corrupt errors total p50 p99 remote_rc leftovers
  rm -f "$shm" "$sock"
  "${rpmsg_cmd[@]}" remote --platform "$remote_json" --no-stdin --wait "$mode" "${remote_echo[@]}" \
    </dev/null >"$work/remote.out" 2>"$work/remote.err" &
  remote_pid=$!; pids+=("$remote_pid")
  if ! wait_for_socket "$remote_pid"; then
    row "our \`rpmsg remote\`" "OpenAMP rpmsg-echo-ping -> ours" "$mode" "no peer ($(head -n 1 "$work/remote.err"))" "-"
    cleanup; return
  fi
  mkfifo "$work/fifo"
  while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done <"$work/fifo" >"$work/oaping.log" &
  stamp_pid=$!; pids+=("$stamp_pid")
  LD_LIBRARY_PATH="$libs" timeout -k 5 60 stdbuf -oL "$ping_app" 1 </dev/null >"$work/fifo" 2>&1 &
  ping_pid=$!; pids+=("$ping_pid"); wait "$ping_pid"; rc=$?
  wait "$stamp_pid"
  rm -f "$work/fifo"
  received="$(grep -c 'received payload number' "$work/oaping.log")"
  corrupt="$(grep -c 'Data corruption' "$work/oaping.log")"
  errors="$(sed -n 's/.*Error count = \([0-9]*\).*/\1/p' "$work/oaping.log")"
  # Payloads run from 1 byte to the tx buffer size minus the app's 16-byte header.
  total="$(sed -n 's/.*TX buffer size: 0x\([0-9a-fA-F]*\).*/\1/p' "$work/oaping.log" | head -n 1)"
  total=$(( ${total:+16#$total} - 16 ))
  [ "$total" -gt 0 ] || total=480
  read -r p50 p99 < <(awk '
    / sending payload number / { for (i = 1; i <= NF; i++) if ($i == "number") sent[$(i + 1)] = $1 }
    / received payload number / { for (i = 1; i <= NF; i++) if ($i == "number" && ($(i + 1) in sent)) printf "%.1f\n", ($1 - sent[$(i + 1)]) * 1e6 }
    ' "$work/oaping.log" | sort -n | awk '
    { d[NR] = $1 }
    END {
      if (NR == 0) { print "- -"; exit }
      i50 = int(0.50 * NR + 0.999999); i99 = int(0.99 * NR + 0.999999)
      print d[i50], d[i99]
    }')
  # OpenAMP's ping destroys its endpoint at the end: our remote should exit by itself.
  wait_exit "$remote_pid" 100; remote_rc="$exit_rc"
  if [ "$remote_rc" = running ]; then
    kill -TERM "$remote_pid" 2>/dev/null
    wait_exit "$remote_pid" 100; remote_rc="still running, SIGTERM: $exit_rc"
  fi
  leftovers=""
  [ -e "$shm" ] && leftovers="$leftovers $shm left behind;"
  [ -e "$sock" ] && leftovers="$leftovers $sock left behind;"
  if [ "$rc" = 0 ] && [ "$corrupt" = 0 ] && [ "${errors:-x}" = 0 ]; then
    row "our \`rpmsg remote\`" "OpenAMP rpmsg-echo-ping -> ours, 17..$((total + 16)) B" "$mode" \
      "$received/$total (remote exit: $remote_rc;$leftovers)" "~$p50 / ~$p99 us"
  else
    row "our \`rpmsg remote\`" "OpenAMP rpmsg-echo-ping -> ours, 17..$((total + 16)) B" "$mode" \
      "$((received - corrupt))/$total (ping exit $rc, errors ${errors:-?}; remote exit: $remote_rc;$leftovers)" "-"
  fi
  cleanup
}

echo "| peer | version | direction | wait mode | result (verified/total) | p50 / p99 round trip |"
echo "|---|---|---|---|---|---|"
for mode in $modes; do
  echo "openamp-real: $mode" >&2
  for c in $cases; do
    case "$c" in
      ping) case_ping "$mode" ;;
      send) case_send "$mode" ;;
      openamp-ping) case_openamp_ping "$mode" ;;
      *) echo "openamp-real: unknown case '$c' (ping, send, openamp-ping)" >&2; exit 2 ;;
    esac
  done
done
echo
echo "$(nproc) CPUs, load average $(cut -d ' ' -f 1-3 /proc/loadavg) at the end (round-trip times depend on it)."
