// SPDX-License-Identifier: Apache-2.0
// The POLICY encoder (see PROTOCOL.md, "POLICY"). Coordinator side; not on any hot path.
#include <msgpack.hpp>

#include "protocol/buffer_sink.hpp"
#include "protocol/codec.hpp"

namespace medic::protocol {

namespace {

class PolicyWriter {
public:
  explicit PolicyWriter(std::string& out) : m_sink(out), m_packer(m_sink) {}

  void str(std::string_view text) {
    m_packer.pack_str(static_cast<std::uint32_t>(text.size()));
    m_packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
  }
  void reason(std::string_view text) {
    str("reason");
    str(text.substr(0, Limits::k_max_policy_reason_bytes));
  }
  void time(std::string_view key, std::int64_t value) {
    str(key);
    m_packer.pack_int64(value); // non-negative values come out as msgpack uints
  }

  void envelope(const Envelope& envelope) {
    m_packer.pack_array(6);
    m_packer.pack_uint32(envelope.version);
    m_packer.pack_uint8(static_cast<std::uint8_t>(MessageType::policy));
    str(envelope.agent_id);
    m_packer.pack_uint64(envelope.seq);
    m_packer.pack_int64(envelope.sent_at_ms);
  }

  void freeze(const Freeze& freeze) {
    m_packer.pack_map(3);
    str("on");
    if (freeze.on) {
      m_packer.pack_true();
    } else {
      m_packer.pack_false();
    }
    time("until_ms", freeze.until_ms);
    reason(freeze.reason);
  }

  void window(const MaintenanceWindow& window) {
    m_packer.pack_map(5);
    str("id");
    str(window.id);
    time("start_ms", window.start_ms);
    time("end_ms", window.end_ms);
    str("services");
    m_packer.pack_array(static_cast<std::uint32_t>(window.services.size()));
    for (const auto& service : window.services) {
      str(service);
    }
    reason(window.reason);
  }

  void body(const Policy& policy) {
    m_packer.pack_map(3);
    str("version");
    m_packer.pack_uint64(policy.version);
    str("freeze");
    freeze(policy.freeze);
    str("windows");
    m_packer.pack_array(static_cast<std::uint32_t>(policy.windows.size()));
    for (const auto& item : policy.windows) {
      window(item);
    }
  }

private:
  detail::BufferSink m_sink;
  msgpack::packer<detail::BufferSink> m_packer;
};

} // namespace

void encode_policy(std::string& out, const Envelope& envelope, const Policy& policy) {
  PolicyWriter writer(out);
  writer.envelope(envelope);
  writer.body(policy);
}

} // namespace medic::protocol
