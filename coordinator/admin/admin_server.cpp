// SPDX-License-Identifier: Apache-2.0
#include "coordinator/admin/admin_server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "shared/uv/handle.hpp"

namespace medic::coordinator::admin {

struct AdminServer::Client {
  AdminServer* server = nullptr;
  std::uint64_t id = 0;
  uv_pipe_t pipe{};
  std::array<char, 4096> read_buffer{};
  std::string pending; // bytes of a line not yet complete
  uv_shutdown_t shutdown{};
  unsigned in_flight = 0; // requests whose answer is not written yet
  long peer_uid = -1;     // SO_PEERCRED: who the operator is, for the audit trail
  bool peer_done = false; // the peer closed its side; finish once the answers are out
  bool finishing = false;
  bool closing = false;
};

namespace {

struct WriteRequest {
  uv_write_t request{};
  std::string bytes;
};

// True when some process accepts connections on `path` right now.
bool socket_answers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool answers = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return answers;
}

nlohmann::json error_response(std::string_view code, std::string_view message) {
  return {{"ok", false}, {"error", {{"code", code}, {"message", message}}}};
}

} // namespace

AdminServer::AdminServer(uv_loop_t& loop, AdminSettings settings, RequestHandler handler)
    : m_loop(loop), m_settings(std::move(settings)), m_handler(std::move(handler)) {}

AdminServer::~AdminServer() {
  close();
}

Result<void> AdminServer::start() {
  const std::string& path = m_settings.socket_path;
  const std::string where = "admin socket " + path;
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return fail(ErrorCode::io, where + ": creating " + parent.string() + ": " + ec.message());
    }
    ::chmod(parent.c_str(), 0750);
  }
  if (std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    if (socket_answers(path)) {
      return fail(ErrorCode::busy, where +
                                       ": another process answers there (is another "
                                       "medic-coordinator running? change admin.socket)");
    }
    if (::unlink(path.c_str()) != 0) {
      return fail(ErrorCode::io, errno_text(where + ": removing the stale socket", errno));
    }
  }
  uv_pipe_init(&m_loop, &m_server, 0);
  m_server.data = this;
  m_listening = true;
  // No moment where the socket exists with a looser mode than 0660.
  const mode_t old_mask = ::umask(0117);
  const int bound = uv_pipe_bind(&m_server, path.c_str());
  ::umask(old_mask);
  if (bound != 0) {
    return fail(ErrorCode::io, where + ": " + uv_strerror(bound));
  }
  if (m_settings.group != static_cast<gid_t>(-1) &&
      ::chown(path.c_str(), static_cast<uid_t>(-1), m_settings.group) != 0) {
    return fail(ErrorCode::permission, errno_text(where + ": setting its group", errno));
  }
  if (const int rc =
          uv_listen(reinterpret_cast<uv_stream_t*>(&m_server), 16, &AdminServer::on_connection);
      rc != 0) {
    return fail(ErrorCode::io, where + ": " + uv_strerror(rc));
  }
  return {};
}

void AdminServer::on_connection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<AdminServer*>(server->data);
  if (status < 0) {
    spdlog::warn("admin socket: accept failed: {}", uv_strerror(status));
    return;
  }
  self->accept_client();
}

bool AdminServer::peer_allowed(Client& client) const noexcept {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&client.pipe), &fd) != 0) {
    return false;
  }
  ucred credentials{};
  socklen_t size = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
    return false;
  }
  const gid_t group = m_settings.group != static_cast<gid_t>(-1) ? m_settings.group : ::getegid();
  client.peer_uid = static_cast<long>(credentials.uid);
  return credentials.uid == 0 || credentials.uid == ::geteuid() || credentials.gid == group;
}

void AdminServer::accept_client() noexcept {
  auto client = std::make_unique<Client>();
  client->server = this;
  client->id = m_next_client_id++;
  uv_pipe_init(&m_loop, &client->pipe, 0);
  client->pipe.data = client.get();
  auto* stream = reinterpret_cast<uv_stream_t*>(&client->pipe);
  Client& ref = *client;
  m_clients.emplace(ref.id, std::move(client));
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&m_server), stream) != 0) {
    drop(ref);
    return;
  }
  if (!peer_allowed(ref)) {
    ++m_refused_peers;
    spdlog::warn("admin socket: refused a peer that is neither root, our user nor our group");
    write(ref.id, error_response("permission",
                                 "not allowed on this admin socket: run medicctl as root, as the "
                                 "coordinator's user, or with the admin group (admin.group) as "
                                 "your primary group (e.g. sg medic -c 'medicctl ...')"));
    finish(ref);
    return;
  }
  if (m_clients.size() > k_max_clients) {
    write(ref.id, error_response("busy", "too many admin connections; try again"));
    finish(ref);
    return;
  }
  uv_read_start(
      stream,
      [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
        auto* c = static_cast<Client*>(handle->data);
        *buf = uv_buf_init(c->read_buffer.data(), static_cast<unsigned>(c->read_buffer.size()));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* c = static_cast<Client*>(s->data);
        if (nread == UV_EOF) {
          c->peer_done = true;
          if (c->in_flight == 0) {
            c->server->finish(*c);
          }
          return;
        }
        if (nread < 0) {
          c->server->drop(*c);
          return;
        }
        c->pending.append(buf->base, static_cast<std::size_t>(nread));
        std::size_t newline = 0;
        while (!c->closing && (newline = c->pending.find('\n')) != std::string::npos) {
          const std::string line = c->pending.substr(0, newline);
          c->pending.erase(0, newline + 1);
          c->server->on_line(*c, line);
        }
        if (!c->closing && c->pending.size() > k_max_request_bytes) {
          c->server->write(c->id, error_response("too-large",
                                                 "a request line may hold at most "
                                                 "65536 bytes"));
          c->server->finish(*c);
        }
      });
}

void AdminServer::on_line(Client& client, std::string_view line) noexcept {
  if (line.empty() || line == "\r") {
    return;
  }
  nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object()) {
    write(client.id, error_response("bad-request", "expected one JSON object per line"));
    return;
  }
  // Set here, never taken from the request: the audit trail's actor is who the kernel says.
  request["peer_uid"] = client.peer_uid;
  ++client.in_flight;
  auto respond = [this, id = client.id](nlohmann::json response) { answer(id, response); };
  try {
    m_handler(request, respond);
  } catch (const std::exception& e) {
    spdlog::error("admin request failed: {}", e.what());
    respond(error_response("internal", e.what()));
  }
}

void AdminServer::answer(std::uint64_t client_id, const nlohmann::json& response) noexcept {
  write(client_id, response);
  const auto it = m_clients.find(client_id);
  if (it == m_clients.end()) {
    return;
  }
  Client& client = *it->second;
  client.in_flight -= client.in_flight > 0 ? 1 : 0;
  if (client.peer_done && client.in_flight == 0) {
    finish(client);
  }
}

void AdminServer::write(std::uint64_t client_id, const nlohmann::json& response) noexcept {
  const auto it = m_clients.find(client_id);
  if (it == m_clients.end() || it->second->closing) {
    return; // the client hung up before its answer was ready
  }
  auto* request = new WriteRequest;
  request->bytes = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  uv_buf_t buf = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  const int rc =
      uv_write(&request->request, reinterpret_cast<uv_stream_t*>(&it->second->pipe), &buf, 1,
               [](uv_write_t* req, int) { delete reinterpret_cast<WriteRequest*>(req); });
  if (rc != 0) {
    delete request;
  }
}

void AdminServer::finish(Client& client) noexcept {
  if (client.closing || client.finishing) {
    return;
  }
  client.finishing = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&client.pipe));
  client.shutdown.data = &client;
  // The shutdown callback runs after every queued write has gone out.
  if (uv_shutdown(&client.shutdown, reinterpret_cast<uv_stream_t*>(&client.pipe),
                  [](uv_shutdown_t* request, int) {
                    auto* c = static_cast<Client*>(request->data);
                    c->server->drop(*c);
                  }) != 0) {
    drop(client);
  }
}

void AdminServer::drop(Client& client) noexcept {
  if (client.closing) {
    return;
  }
  client.closing = true;
  // Pending writes complete (with ECANCELED) before the close callback runs.
  uv_close(reinterpret_cast<uv_handle_t*>(&client.pipe), [](uv_handle_t* handle) {
    auto* c = static_cast<Client*>(handle->data);
    c->server->m_clients.erase(c->id);
  });
}

void AdminServer::close() noexcept {
  if (!m_listening) {
    return;
  }
  m_listening = false;
  uv::close_handle(m_server);
  for (auto& [id, client] : m_clients) {
    drop(*client);
  }
  ::unlink(m_settings.socket_path.c_str());
}

Result<gid_t> group_id(const std::string& name) {
  std::array<char, 4096> buffer{};
  group entry{};
  group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return fail(ErrorCode::config, "admin.group: no group named '" + name + "'");
  }
  return found->gr_gid;
}

} // namespace medic::coordinator::admin
