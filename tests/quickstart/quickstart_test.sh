#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The quick-start's demo against a build's binaries:
#   quickstart_test.sh SOURCE_DIR BUILD_DIR
# Runs scripts/quickstart.sh --build-dir BUILD_DIR (coordinator, agent and demo service on
# loopback; the demo is killed and must be healed through the coordinator), checks the healed
# incident and the running demo, then `quickstart.sh stop` and checks nothing it started is left
# running. Files and directories the run created under /etc/medic, /var/lib/medic,
# /var/log/medic and /run/medic are removed again. Exit 77 (skipped): not root, or a quick-start
# or another coordinator is already running here (this test would stop or collide with it).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: quickstart_test.sh SOURCE_DIR BUILD_DIR" >&2
  exit 2
fi
src=$1
build=$2
quickstart=$src/scripts/quickstart.sh
demo_port=8765

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: root only (the quick-start writes /etc/medic, /var/lib/medic and /run/medic)"
  exit 77
fi
for pidfile in /run/medic/quickstart-agent.pid /run/medic/quickstart-coordinator.pid; do
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "SKIP: a quick-start is running here (scripts/quickstart.sh stop first)"
    exit 77
  fi
done
for port in 4790 "$demo_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "SKIP: 127.0.0.1:$port is in use (a coordinator or another program)"
    exit 77
  fi
done

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

paths=(/etc/medic /var/lib/medic /var/log/medic /run/medic)
work=$(mktemp -d)
find "${paths[@]}" 2>/dev/null | sort >"$work/before" || true

started_pids=()
remember_pids() { # the pids of what the quick-start started, in case its pid files vanish
  local pidfile
  for pidfile in /run/medic/quickstart-agent.pid /run/medic/quickstart-coordinator.pid \
    /run/medic/medic-demo.pid; do
    if [ -f "$pidfile" ]; then
      started_pids+=("$(cat "$pidfile")")
    fi
  done
}

cleanup() {
  "$quickstart" stop >/dev/null 2>&1 || true
  local pid
  for pid in "${started_pids[@]}"; do
    # Still ours (not a reused pid): a medic program or the demo's server.
    if [ -n "$pid" ] && grep -qs -e medic "/proc/$pid/cmdline"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  find "${paths[@]}" 2>/dev/null | sort >"$work/after" || true
  # What this run created, deepest first.
  comm -13 "$work/before" "$work/after" | sort -r | while read -r path; do
    rm -rf -- "$path"
  done
  rm -rf -- "$work"
}
trap cleanup EXIT

set +e
timeout --kill-after=5 150 "$quickstart" --build-dir "$build" >"$work/out" 2>&1
rc=$?
set -e
remember_pids
cat "$work/out"
if [ "$rc" -ne 0 ]; then
  for log in /var/log/medic/coordinator.log /var/log/medic/agent.log; do
    echo "--- last lines of $log"
    tail -n 30 "$log" 2>/dev/null || true
  done
  fail "quickstart.sh --build-dir exited with $rc"
fi

# The marker line: "QUICKSTART-HEALED incident=ID verified_ms=N resolved_ms=N".
marker=$(grep '^QUICKSTART-HEALED ' "$work/out") || fail "no QUICKSTART-HEALED line"
incident=$(sed -n 's/.*incident=\([0-9]*\).*/\1/p' <<<"$marker")
verified_ms=$(sed -n 's/.*verified_ms=\([0-9]*\).*/\1/p' <<<"$marker")
[ -n "$incident" ] && [ "$incident" -gt 0 ] || fail "no incident id in: $marker"
[ -n "$verified_ms" ] && [ "$verified_ms" -lt 60000 ] || fail "not verified within 60 s: $marker"
echo "kill -9 to verified restart: $verified_ms ms"

# The timeline printed by `medicctl incident show` went through the whole loop.
for step in opened diagnosed decided command verified resolved; do
  grep -Eq "  $step  " "$work/out" || fail "the incident's timeline has no '$step' step"
done
grep -q "restart-demo" "$work/out" || fail "restart-demo is not in the incident's timeline"
/etc/medic/quickstart/medic-demo status || fail "the demo service is not running after the heal"
(exec 3<>"/dev/tcp/127.0.0.1/$demo_port") 2>/dev/null || fail "the demo does not answer on :$demo_port"

# `stop` stops everything, the demo service too.
"$quickstart" stop
for pidfile in /run/medic/quickstart-agent.pid /run/medic/quickstart-coordinator.pid \
  /run/medic/medic-demo.pid; do
  [ ! -e "$pidfile" ] || fail "$pidfile is left after stop"
done
if (exec 3<>"/dev/tcp/127.0.0.1/$demo_port") 2>/dev/null; then
  fail "the demo service still answers after stop"
fi
if (exec 3<>/dev/tcp/127.0.0.1/4790) 2>/dev/null; then
  fail "the coordinator still listens after stop"
fi
echo "PASS"
