#!/usr/bin/env bash
# Runs this project's rpmsg tool against NXP's real RPMsg-Lite (its core: rpmsg_lite.c, virtqueue.c,
# llist.c, rpmsg_ns.c), built for Linux user space with this project's own glue (tests/interop/rpmsg-lite/:
# environment and platform layer over a shared-memory file and a Unix-socket doorbell, an echo remote and
# a ping master; no RPMsg-Lite code). Both roles, every wait mode, RL_BUFFER_COUNT 2 and 256; prints one
# markdown table row per case. Not part of the test run: it needs an RPMsg-Lite source tree, fetched
# outside the repository (docs/interop.md, "Verified against the real RPMsg-Lite").
#
#   tests/interop/rpmsg-lite-real.sh [--count N] [--sizes "1 496"] [--modes "interrupt hybrid poll"]
#                                    [--buffers "2 256"] [--cases "ping master burst hostburst nocopy"]
#                                    [--burst K] [--consumed-kicks "0 1"] [--max-wait-ms MS]
#                                    [--rpmsg "COMMAND"] [--no-build] [--out FILE] [RPMSG_LITE_SRC]
#
# Cases: ping (our host, one message at a time, each of --sizes), hostburst (our host, --inflight K, 64 B),
# master and burst (RPMsg-Lite's master, burst 1 and K), nocopy (four rows: our host at 1 and K in flight
# and RPMsg-Lite's master at burst 1 and K, RPMsg-Lite's side using its zero-copy API: receive callbacks
# return RL_HOLD, replies go out with rpmsg_lite_alloc_tx_buffer + rpmsg_lite_send_nocopy, and the held
# buffers are released newest first, so our side gets its buffers back out of order), restart (not by default:
# four rows, 1 and K in flight: RPMsg-Lite's remote killed and started again under our running `ping`, then
# reset in place with the doorbell kept; the rows record what our host did). --consumed-kicks:
# RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION values to build and run every case with (default 0, RPMsg-Lite's
# default; 1: RPMsg-Lite kicks when it gives buffers back).
#
# RPMSG_LITE_SRC (or the environment variable RPMSG_LITE_SRC) is a checkout of
# github.com/nxp-mcuxpresso/rpmsg-lite. The apps are built with cc in a scratch folder under /tmp;
# every step is bounded; processes it started, its shared-memory file, its socket and the scratch
# folder are removed on every exit path (Ctrl+C and SIGTERM included). A master run whose longest wait
# for an echo (or for a tx buffer) exceeds --max-wait-ms (default 250; RPMsg-Lite against itself: a few ms)
# is reported as STALLED: every echo arrived, but our side sat on a returned buffer.
set -uo pipefail

count=2000
sizes="1 496"
modes="interrupt hybrid poll"
buffers="2 256"
cases="ping master burst hostburst nocopy"
burst=16
consumed="0"
max_wait=250
rpmsg=""
build=1
out=""
src="${RPMSG_LITE_SRC:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --buffers) buffers="$2"; shift 2 ;;
    --cases) cases="$2"; shift 2 ;;
    --burst) burst="$2"; shift 2 ;;
    --consumed-kicks) consumed="$2"; shift 2 ;;
    --max-wait-ms) max_wait="$2"; shift 2 ;;
    --rpmsg) rpmsg="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "rpmsg-lite-real: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) src="$1"; shift ;;
  esac
done
if [ -z "$src" ] || [ ! -f "$src/lib/rpmsg_lite/rpmsg_lite.c" ]; then
  echo "rpmsg-lite-real: RPMSG_LITE_SRC missing or not an rpmsg-lite checkout ('${src}'; see --help)" >&2
  exit 2
fi
src="$(cd "$src" && pwd)"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
glue="$repo/tests/interop/rpmsg-lite"
work="$(mktemp -d /tmp/rpmsg-lite-real.XXXXXX)"
shm="/dev/shm/rpmsg-lite-real-$$.shm"
sock="/tmp/rpmsg-lite-real-$$.sock"
service=rpmsg-lite-echo
pids=()

. "$repo/tests/interop/real-peer-lib.sh"
trap on_exit EXIT
trap 'echo "rpmsg-lite-real: interrupted" >&2; exit 130' INT TERM

for c in $consumed; do
  case "$c" in 0|1) ;; *) echo "rpmsg-lite-real: --consumed-kicks takes 0 and/or 1, not '$c'" >&2; exit 2 ;; esac
done
for c in $cases; do
  case "$c" in ping|master|burst|hostburst|nocopy|restart) ;;
    *) echo "rpmsg-lite-real: unknown case '$c' (ping, master, burst, hostburst, nocopy, restart)" >&2; exit 2 ;;
  esac
done

# The RPMsg-Lite apps, one build per RL_BUFFER_COUNT and RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION (the glue
# includes RPMsg-Lite's headers).
for n in $buffers; do
  for c in $consumed; do
    mkdir -p "$work/bin-$n-$c"
    for app in rl_echo_remote rl_ping_master; do
      cc -O2 -std=gnu11 -Wall -Werror -DRL_BUFFER_COUNT="${n}U" -DRL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION="$c" \
        -I"$glue" -I"$src/lib/include" -I"$src/lib/include/environment/bm" -o "$work/bin-$n-$c/$app" \
        "$glue/$app.c" "$glue/rl_glue.c" "$glue/rl_hold.c" "$src/lib/rpmsg_lite/rpmsg_lite.c" \
        "$src/lib/virtio/virtqueue.c" "$src/lib/common/llist.c" "$src/lib/rpmsg_lite/rpmsg_ns.c" >"$work/cc.log" 2>&1 \
        || { cat "$work/cc.log" >&2; echo "rpmsg-lite-real: building $app (RL_BUFFER_COUNT $n, consumed kicks $c) failed" >&2; exit 1; }
    done
  done
done

if [ -z "$rpmsg" ]; then
  if [ "$build" = 1 ]; then
    echo "rpmsg-lite-real: building the rpmsg tool (Release)" >&2
    timeout 900 dotnet build "$repo/src/VirtioRpmsg.Cli" -c Release -nologo -v:quiet >"$work/build.log" 2>&1 \
      || { cat "$work/build.log" >&2; echo "rpmsg-lite-real: build failed" >&2; exit 1; }
  fi
  rpmsg="dotnet $repo/src/VirtioRpmsg.Cli/bin/Release/net10.0/rpmsg.dll"
fi
# shellcheck disable=SC2206 # the command is a word list on purpose
rpmsg_cmd=($rpmsg)

# The repository's presets with vringNum = RL_BUFFER_COUNT (2 x as many buffers) and this run's file and socket.
preset() {
  local role="$1" n="$2"
  sed -e "s#\"vringNum\": 256#\"vringNum\": $n#" -e "s#\"bufferCount\": 512#\"bufferCount\": $((2 * n))#" \
    -e "s#\"bufferPoolSize\": \"0x40000\"#\"bufferPoolSize\": \"$(printf '0x%x' $((2 * n * 512)))\"#" \
    -e "s#/dev/shm/rpmsg-lite.shm#$shm#" -e "s#/tmp/rpmsg-lite.event.0#$sock#" \
    "$repo/docs/platforms/rpmsg-lite-$role.json" >"$work/$role-$n.json"
  grep -q "\"vringNum\": $n," "$work/$role-$n.json" || { echo "rpmsg-lite-real: cannot adapt rpmsg-lite-$role.json" >&2; exit 1; }
}
for n in $buffers; do preset host "$n"; preset remote "$n"; done

rl_version="$(git -C "$src" describe --tags --always 2>/dev/null || sed -n 's/^## \[\(v[0-9.]*\)\].*/\1/p' "$src/CHANGELOG.md" | head -n 1)"
# The current build: RL_BUFFER_COUNT $n (set by the loop below) and consumed-buffer kicks $ck.
ck=0
row() {
  local peer="RPMsg-Lite ${rl_version:-unknown}"
  if [ "$ck" = 1 ]; then peer="$peer, consumed-buffer kicks"; fi
  local line="| $peer | $1 | $2 | $3 | $4 | $5 |"
  echo "$line"
  if [ -n "$out" ]; then echo "$line" >>"$out"; fi
}

# The zero-copy summary an app printed with --nocopy: ", R released, O out of order" (empty without it).
held_summary() {
  sed -n 's/.*zero-copy: released \([0-9]*\) held buffers, \([0-9]*\) of them out of order.*/, \1 released, \2 out of order/p' "$1"
}

# Our host: `rpmsg ping` against RPMsg-Lite's echo remote (with a 4th argument K: `--inflight K`, a burst from our
# side; with a 5th, nocopy: the remote holds our buffers and releases them newest first, `--nocopy 8`: once 8 are
# held, at most RL_BUFFER_COUNT).
# Starts RPMsg-Lite's echo remote built for buffer count $n (options after); sets the caller's remote_pid.
start_remote() {
  "$work/bin-$n-$ck/rl_echo_remote" --shm "$shm" --socket "$sock" --name "$service" --timeout 30 "$@" \
    </dev/null >"$work/rl.out" 2>"$work/rl.err" &
  remote_pid=$!; pids+=("$remote_pid")
}

# Starts our `rpmsg ping` in the background against table $n in wait mode $mode, COUNT round trips (options after);
# sets the caller's pid.
start_ping() {
  local rounds="$1"; shift
  timeout -k 5 180 "${rpmsg_cmd[@]}" ping --platform "$work/host-$n.json" --service "$service" --count "$rounds" \
    --wait "$mode" --warmup 0 "$@" >"$work/ping.out" 2>"$work/ping.err" </dev/null &
  pid=$!; pids+=("$pid")
}

case_ping() {
  local mode="$1" n="$2" size="$3" inflight="${4:-1}" nocopy="${5:-}" remote_pid pid rc verified p50 p99 err remote_rc
  local echoed what held extra=()
  what="our \`ping\` -> RPMsg-Lite remote, $size B"
  if [ "$inflight" -gt 1 ]; then what="our \`ping --inflight $inflight\` -> RPMsg-Lite remote, $size B"; fi
  if [ -n "$nocopy" ]; then what="$what, remote zero-copy (RL_HOLD, released newest first)"; extra=(--nocopy 8); fi
  rm -f "$shm" "$sock"
  start_remote "${extra[@]}"
  if ! wait_for_socket "$remote_pid"; then
    row "$what" "$n" "$mode" "no peer ($(head -n 1 "$work/rl.err"))" "-"; cleanup; return
  fi
  start_ping "$count" --size "$size" --inflight "$inflight"; wait "$pid"; rc=$?
  verified="$(sed -n 's/^verified \([0-9]*\/[0-9]*\).*/\1/p' "$work/ping.out")"
  p50="$(awk '$1=="p50"{print $2}' "$work/ping.out")"
  p99="$(awk '$1=="p99"{print $2}' "$work/ping.out")"
  err="$(head -n 1 "$work/ping.err")"
  wait_exit "$remote_pid" 100; remote_rc="$exit_rc"
  echoed="$(sed -n 's/.*echoed \([0-9]*\) messages.*/\1/p' "$work/rl.out")"
  held="$(held_summary "$work/rl.out")"
  if [ -n "$nocopy" ] && [ -z "$held" ]; then echoed="$echoed (no zero-copy summary)"; fi
  if [ "$rc" = 0 ] && [ "$verified" = "$count/$count" ] && [ "$remote_rc" = 0 ] && [ "$echoed" = "$count" ]; then
    row "$what" "$n" "$mode" "$verified (remote echoed $echoed$held, exit 0)" "$p50 / $p99 us"
  else
    row "$what" "$n" "$mode" \
      "FAIL ${verified:-0/$count} (ping exit $rc: ${err:-}; remote exit $remote_rc: $(tail -n 1 "$work/rl.err"))" "-"
  fi
  cleanup
}

# RPMsg-Lite's master (payloads of 1..496 bytes, --burst K back to back) against `rpmsg remote --echo` (with a
# 4th argument, nocopy: the master sends zero-copy and holds our echoes, releasing them newest first, `--nocopy 8`).
case_master() {
  local mode="$1" n="$2" k="$3" nocopy="${4:-}" remote_pid pid rc verified remote_rc leftovers err start end us
  local longest what held extra=()
  what="RPMsg-Lite master -> our \`remote\`, 1..496 B, burst $k"
  if [ -n "$nocopy" ]; then what="$what, master zero-copy (RL_HOLD, released newest first)"; extra=(--nocopy 8); fi
  rm -f "$shm" "$sock"
  "${rpmsg_cmd[@]}" remote --platform "$work/remote-$n.json" --no-stdin --wait "$mode" --echo "$service" \
    </dev/null >"$work/remote.out" 2>"$work/remote.err" &
  remote_pid=$!; pids+=("$remote_pid")
  if ! wait_for_socket "$remote_pid"; then
    row "$what" "$n" "$mode" "no peer ($(head -n 1 "$work/remote.err"))" "-"
    cleanup; return
  fi
  start="$EPOCHREALTIME"
  timeout -k 5 180 "$work/bin-$n-$ck/rl_ping_master" --shm "$shm" --socket "$sock" --name "$service" --count "$count" \
    --burst "$k" --timeout 20 "${extra[@]}" </dev/null >"$work/rl.out" 2>"$work/rl.err" &
  pid=$!; pids+=("$pid"); wait "$pid"; rc=$?
  end="$EPOCHREALTIME"
  verified="$(sed -n 's/.*verified \([0-9]*\/[0-9]*\) echoes.*/\1/p' "$work/rl.out")"
  # The longer of the master's longest send (waiting for a tx buffer) and its longest wait for echoes.
  longest="$(sed -n 's/.*longest send \([0-9]*\) ms, longest wait for echoes \([0-9]*\) ms.*/\1 \2/p' "$work/rl.out" \
    | awk '{ print ($1 > $2 ? $1 : $2) }')"
  err="$(head -n 1 "$work/rl.err")"
  # The master announces the channel's destroy at the end: our remote exits by itself and removes its files.
  wait_exit "$remote_pid" 100; remote_rc="$exit_rc"
  if [ "$remote_rc" = running ]; then
    kill -TERM "$remote_pid" 2>/dev/null
    wait_exit "$remote_pid" 100; remote_rc="still running, SIGTERM: $exit_rc"
  fi
  leftovers=""
  [ -e "$shm" ] && leftovers="$leftovers shm file left behind;"
  [ -e "$sock" ] && leftovers="$leftovers socket left behind;"
  held="$(held_summary "$work/rl.out")"
  if [ -n "$nocopy" ] && [ -z "$held" ]; then verified="$verified (no zero-copy summary)"; fi
  us="$(awk -v a="$start" -v b="$end" -v c="$count" 'BEGIN { printf "%.1f", (b - a) * 1e6 / c }')"
  if [ "$rc" = 0 ] && [ "$verified" = "$count/$count" ] && [ "$remote_rc" = 0 ] && [ -z "$leftovers" ]; then
    if [ "${longest:-0}" -gt "$max_wait" ]; then
      row "$what" "$n" "$mode" "STALLED $verified (longest wait ${longest} ms > $max_wait ms$held; remote exit 0)" "~$us us/msg (whole run)"
    else
      row "$what" "$n" "$mode" "$verified (longest wait ${longest:-?} ms$held; remote exit 0, files removed)" "~$us us/msg (whole run)"
    fi
  else
    row "$what" "$n" "$mode" \
      "FAIL ${verified:-0/$count} (master exit $rc: ${err:-}; remote exit $remote_rc:$leftovers $(grep -m 1 -i 'fail\|error\|exception' "$work/remote.err"))" "-"
  fi
  cleanup
}

# RPMsg-Lite's remote restarting under our live host (a 4th argument K: `--inflight K`). Two rows:
# - killed: the remote process is killed (SIGKILL) during a long `ping` and started again on the same shared-memory
#   file and socket path; our host must break on the doorbell's close, naming it, and a new `ping` must then work
#   against the restarted remote (our host re-initialises the rings);
# - reset: the remote resets in place after 100 echoes (`--restart-after 100`: RPMsg-Lite's state dropped, shared
#   memory and doorbell kept, as an MCU reset under a surviving MU); RPMsg-Lite has no status byte, so our host
#   cannot tell; the row records how the ping ends (it must end, not hang, and leave nothing behind).
case_restart() {
  local mode="$1" n="$2" inflight="${3:-1}" remote_pid pid rc verified err remote_rc echoed what i flags=()
  if [ "$inflight" -gt 1 ]; then flags=(--inflight "$inflight"); fi
  what="our \`ping${flags[*]:+ ${flags[*]}}\` -> RPMsg-Lite remote killed (SIGKILL) and started again on the same files"
  rm -f "$shm" "$sock"
  start_remote
  if ! wait_for_socket "$remote_pid"; then
    row "$what" "$n" "$mode" "no peer ($(head -n 1 "$work/rl.err"))" "-"; cleanup; return
  fi
  start_ping 100000000 --size 64 "${flags[@]}"
  # Bound (the ping printed its header), then half a second of round trips, then the kill.
  for i in $(seq 300); do grep -q '^rpmsg ping:' "$work/ping.out" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
  kill -KILL "$remote_pid" 2>/dev/null; wait "$remote_pid" 2>/dev/null
  [ -S "$sock" ] && rm -f "$sock" # (the remote unlinks it once connected)
  start_remote
  wait "$pid"; rc=$?
  err="$(grep -m 1 '^rpmsg ping:' "$work/ping.err" | sed 's/; device counters.*//')"
  if [ "$rc" != 1 ] || ! grep -q 'the peer closed its end of the socket' "$work/ping.err"; then
    row "$what" "$n" "$mode" "FAIL (ping exit $rc after the kill: $(head -n 1 "$work/ping.err"))" "-"; cleanup; return
  fi
  echoed="$(echo "$err" | sed -n 's/.*went away after \([0-9]*\) verified echoes.*/\1/p')"
  if ! wait_for_socket "$remote_pid"; then
    row "$what" "$n" "$mode" "FAIL (the restarted remote: $(head -n 1 "$work/rl.err"))" "-"; cleanup; return
  fi
  start_ping "$count" --size 64 "${flags[@]}"; wait "$pid"; rc=$?
  verified="$(sed -n 's/^verified \([0-9]*\/[0-9]*\).*/\1/p' "$work/ping.out")"
  wait_exit "$remote_pid" 100; remote_rc="$exit_rc"
  if [ "$rc" = 0 ] && [ "$verified" = "$count/$count" ] && [ "$remote_rc" = 0 ]; then
    row "$what" "$n" "$mode" "host broke on the doorbell's close after ${echoed:-?} echoes (ping exit 1, 'the peer closed its end of the socket'); a new \`ping\` against the restarted remote: $verified (remote exit 0)" "-"
  else
    row "$what" "$n" "$mode" "FAIL after the restart: ${verified:-0/$count} (ping exit $rc: $(head -n 1 "$work/ping.err"); remote exit $remote_rc: $(tail -n 1 "$work/rl.err"))" "-"
  fi
  cleanup

  what="our \`ping${flags[*]:+ ${flags[*]}}\` -> RPMsg-Lite remote reset in place after 100 echoes (doorbell kept)"
  rm -f "$shm" "$sock"
  start_remote --restart-after 100
  if ! wait_for_socket "$remote_pid"; then
    row "$what" "$n" "$mode" "no peer ($(head -n 1 "$work/rl.err"))" "-"; cleanup; return
  fi
  start_ping "$count" --size 64 "${flags[@]}"; wait "$pid"; rc=$?
  err="$(grep -m 1 '^rpmsg ping:' "$work/ping.err" | sed 's/^rpmsg ping: //' | cut -c 1-200)"
  wait_exit "$remote_pid" 100; remote_rc="$exit_rc"
  echoed="$(sed -n 's/.*echoed \([0-9]*\) messages.*/\1/p' "$work/rl.out")"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    row "$what" "$n" "$mode" "FAIL: the ping hung (killed by the script's timeout)" "-"
  elif [ "$rc" = 0 ]; then
    row "$what" "$n" "$mode" "ping exit 0 ($(grep '^verified' "$work/ping.out")) across the reset; remote echoed ${echoed:-?} (exit $remote_rc)" "-"
  else
    if [ "$remote_rc" != 0 ]; then echoed="${echoed:-?} (exit $remote_rc: $(tail -n 1 "$work/rl.err"))"; else echoed="${echoed:-?} (exit 0)"; fi
    row "$what" "$n" "$mode" "ping exit $rc: ${err:-$(head -n 1 "$work/ping.err")}; remote echoed $echoed" "-"
  fi
  cleanup
}

echo "| peer | direction | RL_BUFFER_COUNT | our wait mode | result (verified/total) | p50 / p99 round trip |"
echo "|---|---|---|---|---|---|"
for ck in $consumed; do
  for mode in $modes; do
    for n in $buffers; do
      echo "rpmsg-lite-real: $mode, RL_BUFFER_COUNT $n, RL_ALLOW_CONSUMED_BUFFERS_NOTIFICATION $ck" >&2
      for c in $cases; do
        case "$c" in
          ping) for s in $sizes; do case_ping "$mode" "$n" "$s"; done ;;
          master) case_master "$mode" "$n" 1 ;;
          burst) case_master "$mode" "$n" "$burst" ;;
          hostburst) case_ping "$mode" "$n" 64 "$burst" ;;
          nocopy)
            case_ping "$mode" "$n" 64 1 nocopy
            case_ping "$mode" "$n" 64 "$burst" nocopy
            case_master "$mode" "$n" 1 nocopy
            case_master "$mode" "$n" "$burst" nocopy ;;
          restart)
            case_restart "$mode" "$n" 1
            case_restart "$mode" "$n" "$burst" ;;
        esac
      done
    done
  done
done
echo
echo "$(nproc) CPUs, load average $(cut -d ' ' -f 1-3 /proc/loadavg) at the end (round-trip times depend on it)."
