// SPDX-License-Identifier: Apache-2.0
// The ZAP handler (ZeroMQ RFC 27) that admits only enrolled agent keys to the CURVE-secured
// ROUTER. It answers libzmq's authentication requests on inproc://zeromq.zap.01 from the loop
// thread, from an in-memory allowlist, so a handshake never waits on the database. It must be
// started before the ROUTER binds: without a handler libzmq would admit every CURVE client.
// Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <uv.h>
#include <zmq.hpp>

#include "shared/clock.hpp"
#include "shared/error.hpp"
#include "shared/log/logging.hpp"
#include "shared/uv/zmq_watcher.hpp"

namespace medic::coordinator::server {

struct ZapCounters {
  std::uint64_t admitted = 0;
  std::uint64_t refused = 0;
  std::uint64_t malformed = 0;
};

class ZapHandler {
public:
  ZapHandler(uv_loop_t& loop, zmq::context_t& context, const Clock& clock);
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  [[nodiscard]] Result<void> start();
  void close() noexcept;

  // Z85 public key → the agent id it may speak for.
  void allow(const std::string& public_key, const std::string& agent_id);
  void revoke(const std::string& public_key);
  // The agent id an admitted key may speak for; null once it is revoked. Points into the
  // allowlist: valid until the next allow() or revoke() (ingest looks it up per message).
  [[nodiscard]] const std::string* agent_for(std::string_view public_key) const;
  [[nodiscard]] std::size_t allowed() const noexcept { return m_allowed.size(); }
  [[nodiscard]] const ZapCounters& counters() const noexcept { return m_counters; }

private:
  void on_request();

  const Clock& m_clock;
  zmq::socket_t m_socket;
  uv::ZmqWatcher m_watcher;
  // Transparent, so a key seen as a string_view (a message's User-Id) is looked up as it is.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>> m_allowed;
  ZapCounters m_counters;
  log::RateLimiter m_log_limit{10, 10'000};
};

} // namespace medic::coordinator::server
