#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted bytes with SharpFuzz + AFL++.
#
#   tests/fuzz/run.sh [minutes-per-target] [target...]
#
# Targets (default: all, one after the other): ResourceTable Elf NameService RpmsgHeader DescriptorChain.
# Installs afl++ (apt-get) and the SharpFuzz CLI (dotnet tool) if missing, builds tests/VirtioRpmsg.Fuzz,
# instruments VirtioRpmsg.dll, runs afl-fuzz per target for the given minutes, prints the crash count.
# Findings go to artifacts/fuzz/findings/<target>; replay one with
#   dotnet artifacts/fuzz/bin/VirtioRpmsg.Fuzz.dll <target> <file>
# KEEP_CORPUS=1 copies AFL's queue into tests/fuzz/corpus/<target> (keep it small: < 1 MB in all).
set -euo pipefail
cd "$(dirname "$0")/../.."

minutes="${1:-10}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(ResourceTable Elf NameService RpmsgHeader DescriptorChain)
fi

if ! command -v afl-fuzz >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq afl++
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null; then
  dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0
fi

out=artifacts/fuzz
dotnet build -c Release tests/VirtioRpmsg.Fuzz -o "$out/bin" >/dev/null
sharpfuzz "$out/bin/VirtioRpmsg.dll"

status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/findings"
  rm -rf "${out:?}/findings/$t"
  echo "== $t: ${minutes} min"
  # AFL_SKIP_BIN_CHECK: the target is 'dotnet', the instrumentation is in the managed assembly.
  AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    afl-fuzz -V "$((minutes * 60))" -i "tests/fuzz/corpus/$t" -o "$out/findings/$t" -t 5000 -m none \
    -- dotnet "$out/bin/VirtioRpmsg.Fuzz.dll" "$t" >"$out/findings/$t.log" 2>&1 || true
  stats="$out/findings/$t/default/fuzzer_stats"
  if [ -f "$stats" ]; then
    grep -E "^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg|run_time) " "$stats" | tr -s ' ' | paste -sd ' ' -
  else
    echo "afl-fuzz did not start; see $out/findings/$t.log"
    status=1
    continue
  fi
  crashes=$(find "$out/findings/$t/default/crashes" -name 'id:*' 2>/dev/null | wc -l)
  echo "$t: $crashes crash(es)"
  [ "$crashes" -gt 0 ] && status=1
  if [ "${KEEP_CORPUS:-0}" = "1" ]; then
    for f in "$out/findings/$t/default/queue"/id:*; do
      name=$(basename "$f" | cut -d, -f1 | tr ':' '-')
      cp "$f" "tests/fuzz/corpus/$t/$name"
    done
  fi
done
exit $status
