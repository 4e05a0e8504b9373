// SPDX-License-Identifier: Apache-2.0
// The rules every agent starts with (config `default_rules: false` drops them; a configured rule
// with the same id replaces one). Written in the config file's own syntax, so they read like
// the reference in docs/ and are parsed by the same code.
#include "agent/config/sensing_config.hpp"

namespace medic::agent::config {

namespace {

constexpr std::string_view k_default_rules = R"yaml(
rules:
  # Disks: a level, and a trend that warns hours before the level is reached.
  - {id: disk-almost-full, metric: disk.used_pct, kind: threshold, above: 90, clear: 85, for: 1m,
     severity: high, category: resource, summary: disk almost full}
  - {id: disk-full, metric: disk.used_pct, kind: threshold, above: 97, clear: 95,
     severity: critical, category: resource, summary: disk full}
  - {id: disk-filling, metric: disk.used_pct, kind: trend, limit: 100, horizon: 4h, window: 6h,
     min_span: 30m, severity: high, category: resource, summary: disk full within 4 h}
  - {id: inodes-almost-full, metric: disk.inodes_used_pct, kind: threshold, above: 90, clear: 85,
     for: 1m, severity: high, category: resource, summary: inodes almost exhausted}
  # Memory.
  - {id: memory-high, metric: mem.used_pct, kind: threshold, above: 90, clear: 85, for: 2m,
     severity: high, category: resource, summary: memory almost exhausted}
  - {id: memory-exhaustion-predicted, metric: mem.used_pct, kind: trend, limit: 100,
     horizon: 30m, window: 1h, min_span: 10m, severity: high, category: resource,
     summary: memory exhausted within 30 min}
  - {id: swap-heavy, metric: swap.used_pct, kind: threshold, above: 80, clear: 60, for: 5m,
     severity: medium, category: resource, summary: heavy swapping}
  # CPU.
  - {id: cpu-saturated, metric: cpu.usage_pct, kind: threshold, above: 95, clear: 80, for: 5m,
     severity: medium, category: performance, summary: CPU saturated}
  - {id: cpu-iowait-high, metric: cpu.iowait_pct, kind: threshold, above: 30, clear: 20, for: 5m,
     severity: medium, category: performance, summary: CPUs waiting on I/O}
  - {id: cpu-steal-high, metric: cpu.steal_pct, kind: threshold, above: 20, clear: 10, for: 5m,
     severity: low, category: performance, summary: hypervisor steals CPU}
  - {id: cpu-anomaly, metric: cpu.usage_pct, kind: anomaly, severity: low,
     category: performance, summary: unusual CPU usage}
  # Disk I/O and network.
  - {id: disk-io-saturated, metric: disk.io.util_pct, kind: threshold, above: 95, clear: 80,
     for: 5m, severity: medium, category: performance, summary: disk busy all the time}
  - {id: disk-io-slow-writes, metric: disk.io.write_await_ms, kind: threshold, above: 500,
     clear: 200, for: 2m, severity: medium, category: performance, summary: slow disk writes}
  - {id: net-errors, metric: net.rx_errors_per_s, kind: threshold, above: 10, clear: 1, for: 1m,
     severity: medium, category: network, summary: network receive errors}
  - {id: net-drops, metric: net.rx_drops_per_s, kind: threshold, above: 100, clear: 10, for: 1m,
     severity: low, category: network, summary: network packets dropped}
  # Watched services and endpoints (only when processes / probes are configured).
  - {id: process-down, metric: proc.up, kind: threshold, below: 1, severity: critical,
     category: integration, summary: service not running}
  - {id: process-restarting, metric: proc.restarts, kind: rate, above: 0.01, window: 5m,
     counter: true, severity: medium, category: integration, summary: service keeps restarting}
  - {id: process-memory-leak, metric: proc.rss_bytes, kind: leak, severity: high,
     category: performance, summary: process memory keeps growing}
  - {id: endpoint-down, metric: probe.up, kind: threshold, below: 1, for: 10s, severity: high,
     category: api, summary: endpoint not answering}
  - {id: endpoint-slow, metric: probe.latency_ms, kind: threshold, above: 1000, clear: 500,
     for: 1m, severity: medium, category: performance, summary: endpoint slow}

log_rules:
  - {id: oom-killer, pattern: 'Out of memory: Killed process|invoked oom-killer|oom-kill:',
     severity: critical, category: resource, summary: the kernel killed a process (OOM)}
  - {id: segfault, pattern: 'segfault at [0-9a-f]+|general protection fault|SIGSEGV',
     severity: high, category: resource, summary: a process crashed}
  - {id: disk-full-error, pattern: 'No space left on device', severity: critical,
     category: resource, summary: writes fail for lack of space}
  - {id: io-error, pattern: 'Buffer I/O error|EXT4-fs error|XFS \(\S+\): .*error|blk_update_request: I/O error',
     severity: high, category: resource, summary: disk I/O errors}
  - {id: too-many-open-files, pattern: 'Too many open files', severity: high,
     category: resource, summary: file descriptors exhausted}
  - {id: db-connection-failed, ignore_case: true, count: 5, window: 1m,
     pattern: 'could not connect to server|connection to server .* failed|Can.t connect to (local )?MySQL server|too many connections|remaining connection slots are reserved|ECONNREFUSED|Connection refused',
     severity: high, category: database, summary: database connections failing}
  - {id: db-auth-failed, count: 3, window: 1m,
     pattern: 'password authentication failed for user "?(?P<user>[^" ]+)',
     severity: high, category: authentication, summary: database logins rejected}
  - {id: mysql-access-denied, count: 3, window: 1m,
     pattern: 'Access denied for user .(?P<user>[^'']+).',
     severity: high, category: authentication, summary: database logins rejected}
  - {id: ssh-auth-failures, count: 10, window: 1m,
     pattern: 'Failed password for (invalid user )?(?P<user>\S+) from (?P<source_ip>[0-9a-fA-F.:]+)',
     severity: medium, category: authentication, summary: repeated SSH login failures}
  - {id: db-deadlock, pattern: 'deadlock detected|Deadlock found', severity: medium,
     category: database, summary: database deadlocks}
  - {id: network-unreachable, count: 5, window: 1m,
     pattern: 'Network is unreachable|No route to host|Temporary failure in name resolution|Name or service not known',
     severity: medium, category: network, summary: network or DNS failures}
  - {id: upstream-timeout, count: 5, window: 1m, ignore_case: true,
     pattern: 'upstream timed out|connection timed out|ETIMEDOUT|504 Gateway',
     severity: medium, category: network, summary: upstream timeouts}
  - {id: http-5xx, count: 20, window: 1m, pattern: '" 5[0-9][0-9] [0-9-]+',
     severity: high, category: api, summary: many HTTP 5xx answers}
  - {id: tls-failure, ignore_case: true,
     pattern: 'certificate has expired|certificate verify failed|x509: certificate|SSL routines',
     severity: high, category: network, summary: TLS certificate problems}
  - {id: config-error, ignore_case: true,
     pattern: 'configuration error|invalid configuration|syntax error in config|failed to load config',
     severity: medium, category: configuration, summary: configuration errors}
  - {id: app-exception, count: 3, window: 1m,
     pattern: 'Traceback \(most recent call last\)|Exception in thread|^panic: |Unhandled exception',
     severity: medium, category: integration, summary: application exceptions}
)yaml";

} // namespace

std::string_view default_rules_yaml() noexcept {
  return k_default_rules;
}

} // namespace medic::agent::config
