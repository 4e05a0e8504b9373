#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# medic's main job on one machine: installs packages, builds, installs the three programs in
# /usr/local/bin and the default configs in /etc/medic (an existing config is kept), then runs
# a coordinator (SQLite, the embedded default) and one agent on loopback, and shows the agent
# reporting. Everything keeps running in the background.
#
#   scripts/quickstart.sh          set up and start (stops an earlier quick-start first)
#   scripts/quickstart.sh stop     stop what the quick-start started
set -euo pipefail
cd "$(dirname "$0")/.."

run_dir=/run/medic
log_dir=/var/log/medic
prefix=/usr/local

stop_all() {
  for name in agent coordinator; do
    local pidfile="$run_dir/quickstart-$name.pid"
    if [ -f "$pidfile" ]; then
      local pid
      pid=$(cat "$pidfile")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "stopped medic-$name (pid $pid)"
      fi
      rm -f "$pidfile"
    fi
  done
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root (it writes /etc/medic, /var/lib/medic and /run/medic)" >&2
  exit 1
fi

scripts/setup.sh
scripts/build.sh release
cmake --install build/release --prefix "$prefix" >/dev/null

install -d -m 0755 /etc/medic "$log_dir"
install -d -m 0750 /var/lib/medic "$run_dir"
for config in agent coordinator; do
  if [ ! -f "/etc/medic/$config.yaml" ]; then
    install -m 0644 "packaging/config/$config.yaml" "/etc/medic/$config.yaml"
  fi
done

stop_all

start() {
  local name=$1
  setsid "$prefix/bin/medic-$name" --config "/etc/medic/$name.yaml" \
    >>"$log_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$run_dir/quickstart-$name.pid"
}

start coordinator
for _ in $(seq 100); do
  "$prefix/bin/medicctl" status >/dev/null 2>&1 && break
  if ! kill -0 "$(cat "$run_dir/quickstart-coordinator.pid")" 2>/dev/null; then
    echo "quickstart: medic-coordinator did not start; its log:" >&2
    tail -n 20 "$log_dir/coordinator.log" >&2
    exit 1
  fi
  sleep 0.1
done

# Enrol this host's agent: its key pair is created on first use; the coordinator admits only
# enrolled keys (CURVE with a ZAP allowlist), so the default set-up is the secure one.
agent_key=$("$prefix/bin/medic-agent" --config /etc/medic/agent.yaml --print-public-key)
"$prefix/bin/medicctl" keys add "$(hostname)" "$agent_key" >/dev/null

start agent
echo "waiting for the agent's first batch (batch.flush_interval is 5s)..."
for _ in $(seq 150); do
  # Batches stored by this coordinator process (an earlier run's rows do not count).
  if "$prefix/bin/medicctl" --json status 2>/dev/null | grep -q '"batches": [1-9]'; then
    break
  fi
  sleep 0.2
done

echo
"$prefix/bin/medicctl" agents
cat <<TXT

medic is running: coordinator (storage /var/lib/medic/medic.db) and one agent on loopback.
  medicctl agents            the agents, their last contact, CPU and memory
  medicctl status            what the coordinator has received
  medicctl keys list         enrolled agent keys (add a host: medicctl keys add ID KEY)
  medicctl --json agents     the same as JSON
  logs                       $log_dir/coordinator.log, $log_dir/agent.log
  configs                    /etc/medic/coordinator.yaml, /etc/medic/agent.yaml
  stop                       scripts/quickstart.sh stop
TXT
