#!/usr/bin/env bash
# Runs this project's rpmsg tool against NXP's real RPMsg-Lite (its core: rpmsg_lite.c, virtqueue.c,
# llist.c, rpmsg_ns.c), built for Linux user space with this project's own glue (tests/interop/rpmsg-lite/:
# environment and platform layer over a shared-memory file and a Unix-socket doorbell, an echo remote and
# a ping master; no RPMsg-Lite code). Both roles, every wait mode, RL_BUFFER_COUNT 2 and 256; prints one
# markdown table row per case. Not part of the test run: it needs an RPMsg-Lite source tree, fetched
# outside the repository (docs/interop.md, "Verified against the real RPMsg-Lite").
#
#   tests/interop/rpmsg-lite-real.sh [--count N] [--sizes "1 496"] [--modes "interrupt hybrid poll"]
#                                    [--buffers "2 256"] [--cases "ping master burst hostburst"] [--burst K]
#                                    [--max-wait-ms MS] [--rpmsg "COMMAND"] [--no-build] [--out FILE]
#                                    [RPMSG_LITE_SRC]
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
cases="ping master burst hostburst"
burst=16
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

# The RPMsg-Lite apps, one build per RL_BUFFER_COUNT (the glue includes RPMsg-Lite's headers).
for n in $buffers; do
  mkdir -p "$work/bin-$n"
  for app in rl_echo_remote rl_ping_master; do
    cc -O2 -std=gnu11 -Wall -Werror -DRL_BUFFER_COUNT="${n}U" -I"$glue" -I"$src/lib/include" \
      -I"$src/lib/include/environment/bm" -o "$work/bin-$n/$app" "$glue/$app.c" "$glue/rl_glue.c" \
      "$src/lib/rpmsg_lite/rpmsg_lite.c" "$src/lib/virtio/virtqueue.c" "$src/lib/common/llist.c" \
      "$src/lib/rpmsg_lite/rpmsg_ns.c" >"$work/cc.log" 2>&1 \
      || { cat "$work/cc.log" >&2; echo "rpmsg-lite-real: building $app (RL_BUFFER_COUNT $n) failed" >&2; exit 1; }
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
row() {
  local line="| RPMsg-Lite ${rl_version:-unknown} | $1 | $2 | $3 | $4 | $5 |"
  echo "$line"
  if [ -n "$out" ]; then echo "$line" >>"$out"; fi
}

# Our host: `rpmsg ping` against RPMsg-Lite's echo remote (with a 4th argument K: `--inflight K`, a burst from our side).
case_ping() {
  local mode="$1" n="$2" size="$3" inflight="${4:-1}" remote_pid pid rc verified p50 p99 err remote_rc echoed what
  what="our \`ping\` -> RPMsg-Lite remote, $size B"
  if [ "$inflight" -gt 1 ]; then what="our \`ping --inflight $inflight\` -> RPMsg-Lite remote, $size B"; fi
  rm -f "$shm" "$sock"
  "$work/bin-$n/rl_echo_remote" --shm "$shm" --socket "$sock" --name "$service" --timeout 30 \
    </dev/null >"$work/rl.out" 2>"$work/rl.err" &
  remote_pid=$!; pids+=("$remote_pid")
  if ! wait_for_socket "$remote_pid"; then
    row "$what" "$n" "$mode" "no peer ($(head -n 1 "$work/rl.err"))" "-"; cleanup; return
  fi
  timeout -k 5 180 "${rpmsg_cmd[@]}" ping --platform "$work/host-$n.json" --service "$service" --count "$count" \
    --size "$size" --wait "$mode" --warmup 0 --inflight "$inflight" >"$work/ping.out" 2>"$work/ping.err" </dev/null &
  pid=$!; pids+=("$pid"); wait "$pid"; rc=$?
  verified="$(sed -n 's/^verified \([0-9]*\/[0-9]*\).*/\1/p' "$work/ping.out")"
  p50="$(awk '$1=="p50"{print $2}' "$work/ping.out")"
  p99="$(awk '$1=="p99"{print $2}' "$work/ping.out")"
  err="$(head -n 1 "$work/ping.err")"
  wait_exit "$remote_pid" 100; remote_rc="$exit_rc"
  echoed="$(sed -n 's/.*echoed \([0-9]*\) messages.*/\1/p' "$work/rl.out")"
  if [ "$rc" = 0 ] && [ "$verified" = "$count/$count" ] && [ "$remote_rc" = 0 ] && [ "$echoed" = "$count" ]; then
    row "$what" "$n" "$mode" "$verified (remote echoed $echoed, exit 0)" "$p50 / $p99 us"
  else
    row "$what" "$n" "$mode" \
      "FAIL ${verified:-0/$count} (ping exit $rc: ${err:-}; remote exit $remote_rc: $(tail -n 1 "$work/rl.err"))" "-"
  fi
  cleanup
}

# RPMsg-Lite's master (payloads of 1..496 bytes, --burst K back to back) against `rpmsg remote --echo`.
case_master() {
  local mode="$1" n="$2" k="$3" remote_pid pid rc verified remote_rc leftovers err start end us longest what
  what="RPMsg-Lite master -> our \`remote\`, 1..496 B, burst $k"
  rm -f "$shm" "$sock"
  "${rpmsg_cmd[@]}" remote --platform "$work/remote-$n.json" --no-stdin --wait "$mode" --echo "$service" \
    </dev/null >"$work/remote.out" 2>"$work/remote.err" &
  remote_pid=$!; pids+=("$remote_pid")
  if ! wait_for_socket "$remote_pid"; then
    row "$what" "$n" "$mode" "no peer ($(head -n 1 "$work/remote.err"))" "-"
    cleanup; return
  fi
  start="$EPOCHREALTIME"
  timeout -k 5 180 "$work/bin-$n/rl_ping_master" --shm "$shm" --socket "$sock" --name "$service" --count "$count" \
    --burst "$k" --timeout 20 </dev/null >"$work/rl.out" 2>"$work/rl.err" &
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
  us="$(awk -v a="$start" -v b="$end" -v c="$count" 'BEGIN { printf "%.1f", (b - a) * 1e6 / c }')"
  if [ "$rc" = 0 ] && [ "$verified" = "$count/$count" ] && [ "$remote_rc" = 0 ] && [ -z "$leftovers" ]; then
    if [ "${longest:-0}" -gt "$max_wait" ]; then
      row "$what" "$n" "$mode" "STALLED $verified (longest wait ${longest} ms > $max_wait ms; remote exit 0)" "~$us us/msg (whole run)"
    else
      row "$what" "$n" "$mode" "$verified (longest wait ${longest:-?} ms; remote exit 0, files removed)" "~$us us/msg (whole run)"
    fi
  else
    row "$what" "$n" "$mode" \
      "FAIL ${verified:-0/$count} (master exit $rc: ${err:-}; remote exit $remote_rc:$leftovers $(grep -m 1 -i 'fail\|error\|exception' "$work/remote.err"))" "-"
  fi
  cleanup
}

echo "| peer | direction | RL_BUFFER_COUNT | our wait mode | result (verified/total) | p50 / p99 round trip |"
echo "|---|---|---|---|---|---|"
for mode in $modes; do
  for n in $buffers; do
    echo "rpmsg-lite-real: $mode, RL_BUFFER_COUNT $n" >&2
    for c in $cases; do
      case "$c" in
        ping) for s in $sizes; do case_ping "$mode" "$n" "$s"; done ;;
        master) case_master "$mode" "$n" 1 ;;
        burst) case_master "$mode" "$n" "$burst" ;;
        hostburst) case_ping "$mode" "$n" 64 "$burst" ;;
        *) echo "rpmsg-lite-real: unknown case '$c' (ping, master, burst, hostburst)" >&2; exit 2 ;;
      esac
    done
  done
done
echo
echo "$(nproc) CPUs, load average $(cut -d ' ' -f 1-3 /proc/loadavg) at the end (round-trip times depend on it)."
