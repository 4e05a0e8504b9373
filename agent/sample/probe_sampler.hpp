// SPDX-License-Identifier: Apache-2.0
// Probes of local endpoints on the agent's loop: a TCP connect, or a minimal HTTP/1.1 GET over
// uv_tcp (request written once, then at most `max_response_bytes` of status line and headers
// read; the body is never read). Each probe has its own timer: when the attempt outlives
// `timeout_ms` the socket is closed and the probe reports down. A probe never overlaps itself: a
// tick that finds it still running (or still closing) waits for the next interval. Nothing is
// allocated per attempt: request bytes and response buffer are made at open().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "agent/sample/probe_config.hpp"
#include "agent/sample/sample_sink.hpp"
#include "shared/error.hpp"

namespace medic::agent::sample {

class Probe;

class ProbeSampler {
public:
  explicit ProbeSampler(ProbesConfig config);
  ProbeSampler(const ProbeSampler&) = delete;
  ProbeSampler& operator=(const ProbeSampler&) = delete;
  ~ProbeSampler();

  // Validates the config (addresses included) and sets up each probe's timer. Loop thread.
  [[nodiscard]] Result<void> open(uv_loop_t& loop);

  // Loop thread. Starts every probe whose interval passed and that is idle. Results (stamped
  // `now_ms`) go to `sink` when each attempt ends, so `sink` must stay valid until then or until
  // close().
  [[nodiscard]] Result<void> sample(SampleSink& sink, std::int64_t now_ms);

  // Loop thread. Ends running attempts without reporting and closes every handle; the object
  // must outlive the loop turn that runs the close callbacks (the loop's final uv_run).
  void close() noexcept;

  // Some probe is connecting, exchanging or closing.
  [[nodiscard]] bool busy() const noexcept;
  // Attempts that ended by timeout, over all probes.
  [[nodiscard]] std::uint64_t timeouts() const noexcept;

private:
  ProbesConfig m_config;
  std::vector<std::unique_ptr<Probe>> m_probes;
};

} // namespace medic::agent::sample
