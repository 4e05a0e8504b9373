// SPDX-License-Identifier: Apache-2.0
// The admin socket: a Unix stream socket (mode 0660) that takes one JSON request per line and
// answers one JSON response per line. Only root, the coordinator's own user and members of the
// admin group (checked with SO_PEERCRED) get an answer. Every read is bounded: a line over
// k_max_request_bytes closes the connection with an error. Loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <uv.h>
#include <nlohmann/json.hpp>

#include "shared/error.hpp"

namespace medic::coordinator::admin {

using Respond = std::function<void(nlohmann::json)>;
// Called on the loop thread; `respond` may be called later (after a storage query), once.
using RequestHandler = std::function<void(const nlohmann::json& request, Respond respond)>;

struct AdminSettings {
  std::string socket_path;
  gid_t group = static_cast<gid_t>(-1); // -1: the coordinator's own group
};

class AdminServer {
public:
  // Room for `rules.test` with a 1 MiB rule file inline (JSON-escaped); only local, admitted
  // peers reach it, at most k_max_clients at once.
  static constexpr std::size_t k_max_request_bytes = 2 * 1024 * 1024;
  static constexpr std::size_t k_max_clients = 64;

  AdminServer(uv_loop_t& loop, AdminSettings settings, RequestHandler handler);
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;
  ~AdminServer();

  // Refuses to take over a socket another live process answers on; removes a stale one.
  [[nodiscard]] Result<void> start();
  // Closes the listener and every client, and removes the socket file.
  void close() noexcept;

  [[nodiscard]] std::uint64_t refused_peers() const noexcept { return m_refused_peers; }

private:
  struct Client;

  static void on_connection(uv_stream_t* server, int status) noexcept;
  void accept_client() noexcept;
  // Also records the peer's uid in `client`.
  [[nodiscard]] bool peer_allowed(Client& client) const noexcept;
  void on_line(Client& client, std::string_view line) noexcept;
  void write(std::uint64_t client_id, const nlohmann::json& response) noexcept;
  void answer(std::uint64_t client_id, const nlohmann::json& response) noexcept;
  // finish: close after queued writes are out; drop: close now.
  void finish(Client& client) noexcept;
  void drop(Client& client) noexcept;

  uv_loop_t& m_loop;
  AdminSettings m_settings;
  RequestHandler m_handler;
  uv_pipe_t m_server{};
  bool m_listening = false;
  std::uint64_t m_next_client_id = 1;
  std::map<std::uint64_t, std::unique_ptr<Client>> m_clients;
  std::uint64_t m_refused_peers = 0;
};

// Looks up a group by name for AdminSettings::group.
[[nodiscard]] Result<gid_t> group_id(const std::string& name);

} // namespace medic::coordinator::admin
