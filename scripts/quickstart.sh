#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# medic's first run on one machine: installs packages, builds, installs the three programs in
# /usr/local/bin and the default configs in /etc/medic (an existing config is kept), then runs
# a coordinator (SQLite, the embedded default), one agent and a small demo service (a python3
# HTTP server on 127.0.0.1:8765) on loopback. It breaks the demo service (kill -9), waits until
# medic has healed it (detected, diagnosed, restarted, verified), prints the incident, and leaves
# everything running in the background.
#
#   scripts/quickstart.sh                  set up, start and run the demo (stops an earlier run first)
#   scripts/quickstart.sh --build-dir DIR  no setup, no build, no install: use DIR's binaries
#                                          (DIR/agent/medic-agent, DIR/coordinator/medic-coordinator,
#                                          DIR/coordinator/medicctl); what the CI test runs
#   scripts/quickstart.sh stop             stop what the quick-start started, the demo service too
#
# The demo's configuration lives apart from the packaged defaults, in /etc/medic/quickstart/
# (rewritten on every run): agent.yaml and coordinator.yaml are packaging/config's defaults
# plus the demo's sections, diagnosis.yaml is the shipped rules with the demo's rules first,
# medic-demo is the demo service's init-style script (start|stop|restart|status).
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=/run/medic
log_dir=/var/log/medic
state_dir=/var/lib/medic
qs_dir=/etc/medic/quickstart
prefix=/usr/local
demo_port=8765
demo_script=$qs_dir/medic-demo
demo_pidfile=$run_dir/medic-demo.pid
heal_timeout_s=60

usage() {
  echo "usage: scripts/quickstart.sh [--build-dir DIR] | stop" >&2
  exit 2
}

stop_pid() { # $1 name, $2 pid file: SIGTERM, then wait up to 5 s
  local name=$1 pidfile=$2 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

stop_all() {
  # The agent first: it would otherwise heal the demo service it sees stopping.
  stop_pid medic-agent "$run_dir/quickstart-agent.pid"
  stop_pid medic-coordinator "$run_dir/quickstart-coordinator.pid"
  if [ -x "$demo_script" ]; then
    "$demo_script" stop
  else
    stop_pid medic-demo "$demo_pidfile"
  fi
}

build_dir=""
case "${1:-}" in
  stop)
    [ $# -eq 1 ] || usage
    stop_all
    exit 0
    ;;
  --build-dir)
    [ $# -eq 2 ] || usage
    build_dir=$(cd "$2" && pwd)
    ;;
  "") ;;
  *) usage ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root (it writes /etc/medic, /var/lib/medic and /run/medic)" >&2
  exit 1
fi

if [ -n "$build_dir" ]; then
  agent_bin=$build_dir/agent/medic-agent
  coordinator_bin=$build_dir/coordinator/medic-coordinator
  ctl=$build_dir/coordinator/medicctl
  for program in "$agent_bin" "$coordinator_bin" "$ctl"; do
    if [ ! -x "$program" ]; then
      echo "quickstart: $program is missing (build the build directory first)" >&2
      exit 1
    fi
  done
else
  scripts/setup.sh
  scripts/build.sh release
  cmake --install build/release --prefix "$prefix" >/dev/null
  agent_bin=$prefix/bin/medic-agent
  coordinator_bin=$prefix/bin/medic-coordinator
  ctl=$prefix/bin/medicctl
fi

install -d -m 0755 /etc/medic "$qs_dir" "$log_dir"
install -d -m 0750 "$state_dir" "$run_dir"
if [ -z "$build_dir" ]; then
  for config in agent coordinator; do
    if [ ! -f "/etc/medic/$config.yaml" ]; then
      install -m 0644 "packaging/config/$config.yaml" "/etc/medic/$config.yaml"
    fi
  done
fi

stop_all

# --- The demo service: a static HTTP server with an init-style script (no systemd needed). ---
install -d -m 0755 "$state_dir/medic-demo"
echo "medic quick-start demo service" >"$state_dir/medic-demo/index.html"
cat >"$demo_script" <<SCRIPT
#!/bin/bash
# The medic quick-start's demo service (written by scripts/quickstart.sh): python3's static
# HTTP server on 127.0.0.1:$demo_port. Usage: medic-demo start|stop|restart|status
set -u
pidfile=$demo_pidfile
running() {
  local pid
  pid=\$(cat "\$pidfile" 2>/dev/null) || return 1
  [ -n "\$pid" ] && grep -qs medic-demo "/proc/\$pid/cmdline"
}
start() {
  if running; then echo "medic-demo: already running (pid \$(cat "\$pidfile"))"; return 0; fi
  # A background job of a script is no process group leader, so setsid makes it a session of
  # its own without forking: \$! is the server's pid.
  /usr/bin/setsid /usr/bin/python3 -m http.server --bind 127.0.0.1 \\
    --directory $state_dir/medic-demo $demo_port >>$log_dir/medic-demo.log 2>&1 </dev/null &
  echo \$! >"\$pidfile"
  for _ in \$(seq 300); do
    if (exec 3<>/dev/tcp/127.0.0.1/$demo_port) 2>/dev/null; then
      echo "medic-demo: started (pid \$(cat "\$pidfile"), http://127.0.0.1:$demo_port/)"
      return 0
    fi
    running || break
    sleep 0.05
  done
  echo "medic-demo: did not start; see $log_dir/medic-demo.log" >&2
  return 1
}
stop() {
  local pid
  if ! running; then rm -f "\$pidfile"; return 0; fi
  pid=\$(cat "\$pidfile")
  kill -TERM "\$pid"
  for _ in \$(seq 50); do running || break; sleep 0.1; done
  running && kill -KILL "\$pid"
  rm -f "\$pidfile"
  echo "stopped medic-demo (pid \$pid)"
}
case "\${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  status)
    if running; then echo "medic-demo: running (pid \$(cat "\$pidfile"))"; exit 0; fi
    echo "medic-demo: not running"; exit 3 ;;
  *) echo "usage: \$0 start|stop|restart|status" >&2; exit 2 ;;
esac
SCRIPT
chmod 0755 "$demo_script"

if (exec 3<>"/dev/tcp/127.0.0.1/$demo_port") 2>/dev/null; then
  echo "quickstart: 127.0.0.1:$demo_port is taken by another program; the demo needs it" >&2
  exit 1
fi
if (exec 3<>/dev/tcp/127.0.0.1/4790) 2>/dev/null; then
  echo "quickstart: 127.0.0.1:4790 is taken (a medic-coordinator service? systemctl stop" \
    "medic-coordinator); the quick-start's coordinator needs it" >&2
  exit 1
fi

# --- The quick-start's configs: the packaged defaults plus the demo. ---
{
  cat packaging/config/agent.yaml
  cat <<YAML

# --- The quick-start's demo (scripts/quickstart.sh); not part of the packaged defaults. ---
# The demo service is watched by its pid file (built-in rule process-down: its proc.up < 1)
# and by an HTTP probe (built-in rule endpoint-down: no answer for 10 s).
processes:
  - {name: medic-demo, pid_file: $demo_pidfile}
probes:
  - {name: medic-demo, kind: http, port: $demo_port, path: /, interval: 2s, timeout: 1s}
# The action the coordinator's diagnosis names. Kind exec runs the init-style script on any
# host; a real service would use kind service (systemctl, or init_script without systemd).
actions:
  - name: restart-demo
    kind: exec
    risk: low
    description: restart the quick-start's demo service
    argv: [$demo_script, restart]
    timeout: 20s
    cooldown: 5s
    post_condition: {kind: process, target: medic-demo, within: 15s}
YAML
} >"$qs_dir/agent.yaml"

{
  echo "# The quick-start's diagnosis rules: the demo's first, then the shipped rules."
  cat <<YAML
rules:
  - id: quickstart-demo-crashed
    when: {rule: process-down, labels: {process: medic-demo}}
    root_cause: crashed-service
    causes: ["the demo service's process was killed (the quick-start did it)"]
    confidence: 0.9
    automation: auto
    actions:
      - {action: restart-demo, success_rate: 0.9, risk: low}
  # A restart (medic's own repair too) counts in proc.restarts, so the built-in rule
  # process-restarting fires once after the heal: for the demo that is expected, not a crash loop.
  - id: quickstart-demo-restarted
    when: {rule: process-restarting, labels: {process: medic-demo}}
    root_cause: service-restarted
    causes: ["the demo service was restarted (after the quick-start killed it)"]
    confidence: 0.9
    automation: observe
  - id: quickstart-demo-endpoint-down
    when: {rule: endpoint-down, labels: {probe: medic-demo}}
    root_cause: api-endpoint-failure
    causes: ["the demo service hangs or crashed"]
    confidence: 0.8
    automation: auto
    actions:
      - {action: restart-demo, success_rate: 0.8, risk: low}
YAML
  sed -n '/^rules:/,$p' packaging/config/diagnosis.yaml | tail -n +2
} >"$qs_dir/diagnosis.yaml"

{
  cat packaging/config/coordinator.yaml
  cat <<YAML

# --- The quick-start's demo (scripts/quickstart.sh); not part of the packaged defaults. ---
diagnosis:
  rules_file: $qs_dir/diagnosis.yaml
correlation:
  quiet_period: 5s
plan:
  cooldown: 5s
YAML
} >"$qs_dir/coordinator.yaml"
chmod 0644 "$qs_dir"/*.yaml

for name in agent coordinator; do
  bin_var=${name}_bin
  if ! "${!bin_var}" --config "$qs_dir/$name.yaml" --check-config >/dev/null; then
    echo "quickstart: $qs_dir/$name.yaml is not valid (see above)" >&2
    exit 1
  fi
done

start() {
  local name=$1 program=$2
  setsid "$program" --config "$qs_dir/$name.yaml" >>"$log_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$run_dir/quickstart-$name.pid"
}

"$demo_script" start

start coordinator "$coordinator_bin"
for _ in $(seq 100); do
  "$ctl" status >/dev/null 2>&1 && break
  if ! kill -0 "$(cat "$run_dir/quickstart-coordinator.pid")" 2>/dev/null; then
    echo "quickstart: medic-coordinator did not start; its log:" >&2
    tail -n 20 "$log_dir/coordinator.log" >&2
    exit 1
  fi
  sleep 0.1
done

# Enrol this host's agent: its key pair is created on first use; the coordinator admits only
# enrolled keys (CURVE with a ZAP allowlist), so the default set-up is the secure one.
agent_key=$("$agent_bin" --config "$qs_dir/agent.yaml" --print-public-key)
"$ctl" keys add "$(hostname)" "$agent_key" >/dev/null

start agent "$agent_bin"
echo "waiting for the agent's first batch (batch.flush_interval is 10s)..."
reporting=""
for _ in $(seq 150); do
  # Batches stored by this coordinator process (an earlier run's rows do not count).
  if "$ctl" --json status 2>/dev/null | grep -q '"batches": [1-9]'; then
    reporting=yes
    break
  fi
  sleep 0.2
done
if [ -z "$reporting" ]; then
  echo "quickstart: no batch from the agent within 30 s; its log:" >&2
  tail -n 20 "$log_dir/agent.log" >&2
  exit 1
fi
echo
"$ctl" agents

# --- Break the demo service and wait until medic has healed it. ---
sleep 1 # the agent's process sampler (every 1 s) has seen the demo up
demo_pid=$(cat "$demo_pidfile")
echo
echo "breaking the demo service: kill -9 $demo_pid"
killed_ms=$(date +%s%3N)
kill -KILL "$demo_pid"

# Prints "<incident id> <kill to verified, ms> <kill to resolved, ms>" once an incident of the
# demo has a `verified` step after the kill and is resolved; exits 1 when the time is up.
if ! healed=$(/usr/bin/python3 - "$ctl" "$killed_ms" "$heal_timeout_s" <<'PY'
import json, subprocess, sys, time
ctl, killed_ms, timeout_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def ask(*words):
    done = subprocess.run([ctl, "--json", *words], capture_output=True, text=True)
    if done.returncode != 0:
        return {}
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {}

deadline = time.monotonic() + timeout_s
while time.monotonic() < deadline:
    for incident in ask("incidents").get("incidents", []):
        labels = incident.get("labels") or {}
        if labels.get("process") != "medic-demo" and labels.get("probe") != "medic-demo":
            continue
        if incident.get("last_seen_ms", 0) < killed_ms:
            continue
        steps = ask("incident", "show", str(incident["id"])).get("timeline", [])
        verified = [s["time_ms"] for s in steps
                    if s.get("kind") == "verified" and s.get("time_ms", 0) >= killed_ms]
        resolved = incident.get("state") == "resolved" and incident.get("resolved_ms", 0) >= killed_ms
        if verified and resolved:
            print(incident["id"], min(verified) - killed_ms, incident["resolved_ms"] - killed_ms)
            sys.exit(0)
    time.sleep(0.2)
sys.exit(1)
PY
); then
  echo "quickstart: the demo incident was not healed within ${heal_timeout_s} s" >&2
  "$ctl" incidents >&2 || true
  echo "logs: $log_dir/coordinator.log, $log_dir/agent.log" >&2
  exit 1
fi
read -r incident_id verified_ms resolved_ms <<<"$healed"
running_line=$("$demo_script" status)

echo
echo "\$ medicctl incidents"
"$ctl" incidents
echo
echo "\$ medicctl incident show $incident_id"
"$ctl" incident show "$incident_id"
echo
awk -v v="$verified_ms" -v r="$resolved_ms" 'BEGIN { printf "healed: from kill -9 to the restart verified %.1f s; to the incident resolved %.1f s (after a 5 s quiet period)\n", v / 1000, r / 1000 }'
echo "$running_line"
echo "QUICKSTART-HEALED incident=$incident_id verified_ms=$verified_ms resolved_ms=$resolved_ms"

cat <<TXT

medic is running: a coordinator (storage $state_dir/medic.db), one agent and the demo service
(http://127.0.0.1:$demo_port/) on loopback. Break the demo again (kill -9 \$(cat $demo_pidfile))
and watch medic heal it.
  medicctl incidents          incidents, their diagnosis and state
  medicctl incident show ID   the timeline: opened, diagnosed, decided, command, verified, resolved
  medicctl explain ID         why: the rule that matched, how the candidates ranked
  medicctl actions            what the agent ran, with its results
  medicctl agents             the agents, their last contact, CPU and memory
  logs                        $log_dir/coordinator.log, $log_dir/agent.log, $log_dir/medic-demo.log
  configs                     $qs_dir/ (the defaults of packaging/config plus the demo)
  stop                        scripts/quickstart.sh stop   (the demo service too)
TXT
