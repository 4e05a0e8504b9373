// SPDX-License-Identifier: Apache-2.0
// The actions every agent starts with (config `default_actions: false` drops them; a configured
// action with the same name replaces one). Written in the config file's own syntax and read by
// the same code; a unit test builds it. Paths are Debian's (they hold on merged and split /usr).
#include "agent/act/catalog_config.hpp"

namespace medic::agent::act {

namespace {

constexpr std::string_view k_default_catalog = R"yaml(
actions:
  # Services and processes.
  - name: restart-service
    kind: service
    risk: low
    description: restart a systemd unit
    unit: '{unit}'
    operation: restart
    timeout: 90s
    cooldown: 30s
    params:
      - {name: unit, type: string, max_length: 256,
         pattern: '[A-Za-z0-9@._-]+\.(service|socket|timer)|[A-Za-z0-9@._-]+'}
  - name: terminate-process
    kind: signal
    risk: medium
    description: send SIGTERM to the processes of this name
    process_name: '{name}'
    signal: TERM
    timeout: 10s
    params:
      - {name: name, type: string, max_length: 64, pattern: '[A-Za-z0-9][A-Za-z0-9._:+-]*'}
  - name: kill-process
    kind: signal
    risk: high
    description: send SIGKILL to one process (a runaway)
    pid: '{pid}'
    signal: KILL
    timeout: 10s
    params:
      - {name: pid, type: int, min: 2, max: 4194304}
  # Disk space.
  - name: clean-tmp
    kind: clean
    risk: low
    description: delete files in /tmp untouched for 10 days
    directory: /tmp
    older_than: 10d
    recursive: true
    timeout: 5m
    cooldown: 1h
  - name: clean-apt-cache
    kind: clean
    risk: low
    description: delete downloaded packages older than a day
    directory: /var/cache/apt/archives
    name_glob: '*.deb'
    older_than: 1d
    timeout: 5m
    cooldown: 1h
  - name: rotate-log
    kind: exec
    risk: medium
    description: force a log rotation (logrotate -f)
    argv: [/usr/sbin/logrotate, -f, /etc/logrotate.conf]
    timeout: 5m
    cooldown: 10m
  # Diagnostics: read-only, short, attached to the signal that fired.
  - name: diag-process-tree
    kind: exec
    risk: low
    diagnostic: true
    description: the process tree with state, age and memory
    argv: [/bin/ps, -e, --forest, -o, 'pid,ppid,stat,etime,rss,args']
    timeout: 5s
    cooldown: 0s
  - name: diag-sockets
    kind: exec
    risk: low
    diagnostic: true
    description: socket summary
    argv: [/bin/ss, -s]
    timeout: 5s
    cooldown: 0s
  - name: diag-disk-usage
    kind: exec
    risk: low
    diagnostic: true
    description: file system usage
    argv: [/bin/df, -P, -h]
    timeout: 10s
    cooldown: 0s
  - name: diag-memory
    kind: exec
    risk: low
    diagnostic: true
    description: memory and swap usage
    argv: [/usr/bin/free, -m]
    timeout: 5s
    cooldown: 0s
)yaml";

} // namespace

std::string_view default_catalog_yaml() {
  return k_default_catalog;
}

} // namespace medic::agent::act
