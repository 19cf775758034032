# Process and file handling shared by the real-peer interop scripts (openamp-real.sh, rpmsg-lite-real.sh), sourced
# by them. Each script sets $shm, $sock and $work, keeps the processes it starts in the array pids, and installs
# `trap on_exit EXIT` itself.

# Stops one process: SIGTERM, up to 5 s, then SIGKILL; reaps it.
stop_pid() {
  local pid="$1" i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# Stops every process started so far and removes the shared-memory file and the socket.
cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  pids=()
  rm -f "$shm" "$sock"
}
on_exit() { cleanup; rm -rf "$work"; }

# Waits (bounded) until the doorbell server's socket exists and its process is still alive.
wait_for_socket() {
  local server="$1" i
  for i in $(seq 300); do
    kill -0 "$server" 2>/dev/null || return 1
    [ -S "$sock" ] && return 0
    sleep 0.1
  done
  return 1
}

# Waits up to $2 tenths of a second for a process to exit by itself; sets exit_rc to its exit code,
# or to "running". (No command substitution: a subshell cannot reap the script's children.)
wait_exit() {
  local pid="$1" tenths="$2" i
  exit_rc=running
  for i in $(seq "$tenths"); do
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; exit_rc=$?; return 0; fi
    sleep 0.1
  done
}
