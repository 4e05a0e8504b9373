#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package medic needs to build, test and run. Idempotent: when all
# packages are already installed it changes nothing. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # medic-agent's ordered, DT_RELR link in Release (cmake/MedicStaticAgent.cmake)
  lld-16
  # libraries (see cmake/MedicDependencies.cmake)
  libuv1-dev libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libsqlite3-dev libpqxx-dev
  libspdlog-dev libyaml-cpp-dev libexpected-dev nlohmann-json3-dev libsystemd-dev
  libre2-dev libhyperscan-dev libsodium-dev libcurl4-openssl-dev libcpp-httplib-dev
  # tests and tooling
  catch2 sqlite3 python3 clang-format clang-tidy clang libclang-rt-14-dev
  # the interop test client (Debian's python3, not any other on PATH)
  python3-zmq python3-msgpack
  # peers the agent benchmarks compare against (started by the benchmarks, never as services)
  collectd-core prometheus-node-exporter monit
  # the escalation tests post to a real Alertmanager (started by the tests on loopback)
  prometheus-alertmanager
  # the /metrics test checks the exposition with promtool (Debian ships it in prometheus)
  prometheus
  # the storage suite runs against a real PostgreSQL (scripts/pg_test_server.sh)
  postgresql
  # the Debian packages (scripts/package.sh, tests/package): checks, the medic user, units
  lintian adduser systemd
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages such as monit and collectd would start their daemons from postinst; medic's benchmarks
# start them by themselves, so a policy-rc.d refuses every service start during the install.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy="yes"
fi
remove_policy() { if [ -n "$own_policy" ]; then $sudo rm -f "$policy"; fi; }
trap remove_policy EXIT
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
