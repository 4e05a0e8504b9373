// SPDX-License-Identifier: Apache-2.0
#include "agent/act/spawn.hpp"

#include <signal.h>
#include <unistd.h>

#include <utility>

namespace medic::agent::act {

namespace {

constexpr std::size_t k_scratch_bytes = std::size_t{16} * 1024;

bool needs_quotes(const std::string& word) noexcept {
  if (word.empty()) {
    return true;
  }
  for (const char c : word) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("_./=:@%+,-").find(c) != std::string_view::npos;
    if (!plain) {
      return true;
    }
  }
  return false;
}

} // namespace

std::string describe_argv(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& word : argv) {
    if (!text.empty()) {
      text += ' ';
    }
    if (!needs_quotes(word)) {
      text += word;
      continue;
    }
    text += '\'';
    for (const char c : word) {
      text += c == '\'' ? std::string_view("'\\''") : std::string_view(&c, 1);
    }
    text += '\'';
  }
  return text;
}

ChildRun::ChildRun(uv_loop_t& loop, std::size_t max_output)
    : m_loop(loop),
      m_max_output(max_output),
      m_output(std::make_unique_for_overwrite<char[]>(max_output == 0 ? 1 : max_output)),
      m_scratch(std::make_unique_for_overwrite<char[]>(k_scratch_bytes)) {
  uv_timer_init(&loop, &m_timer);
  m_timer.data = this;
}

ChildRun::~ChildRun() = default;

void ChildRun::start(const SpawnRequest& request, SpawnLimits limits, Finished finished) {
  m_state = State::running;
  m_finished = std::move(finished);
  m_limits = limits;
  m_result = ChildResult{};
  m_length = 0;
  m_exited = m_eof = m_timed_out = m_stopped = false;
  m_process_open = m_pipe_open = false;
  m_open_handles = 0;

  uv_file write_fd = -1;
  int rc = open_pipe(write_fd);
  if (rc == 0) {
    rc = spawn(request, write_fd);
  }
  if (write_fd >= 0) {
    ::close(write_fd); // the child holds its copies; end of file comes when they all close
  }
  if (rc == 0) {
    rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&m_pipe), &on_alloc, &on_read);
    if (rc != 0) {
      m_eof = true; // nothing to read then; the run still ends when the child does
    }
    start_timer(m_limits.timeout);
    return;
  }
  m_result.ending = ChildEnding::spawn_failed;
  m_result.reason = "cannot run " +
                    (request.argv.empty() ? std::string("(empty argv)") : request.argv.front()) +
                    ": " + uv_strerror(rc);
  finish();
}

// The output pipe: the read end goes to m_pipe (non-blocking, for the loop), the write end
// (blocking, for the child) to `write_fd`. Both are close-on-exec, so no other child inherits
// them; libuv dup2()s the write end onto the child's 1 and 2.
int ChildRun::open_pipe(uv_file& write_fd) {
  uv_file fds[2] = {-1, -1};
  int rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
  if (rc != 0) {
    return rc;
  }
  write_fd = fds[1];
  uv_pipe_init(&m_loop, &m_pipe, 0);
  m_pipe.data = this;
  m_pipe_open = true;
  ++m_open_handles;
  rc = uv_pipe_open(&m_pipe, fds[0]);
  if (rc != 0) {
    ::close(fds[0]);
  }
  return rc;
}

int ChildRun::spawn(const SpawnRequest& request, int write_fd) {
  if (request.argv.empty()) {
    return UV_EINVAL;
  }
  std::vector<char*> args;
  args.reserve(request.argv.size() + 1);
  for (const std::string& arg : request.argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  // An empty list, never nullptr: nullptr would hand the agent's whole environment over.
  std::vector<char*> env;
  env.reserve(request.env.size() + 1);
  for (const std::string& entry : request.env) {
    env.push_back(const_cast<char*>(entry.c_str()));
  }
  env.push_back(nullptr);

  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE; // libuv opens /dev/null for 0..2 when ignored
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = write_fd;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = write_fd;

  uv_process_options_t options{};
  options.exit_cb = &on_exit;
  options.file = args.front();
  options.args = args.data();
  options.env = env.data();
  options.cwd = request.cwd.empty() ? "/" : request.cwd.c_str();
  options.stdio_count = 3;
  options.stdio = stdio;
  // DETACHED: setsid() in the child, so it leads a new process group the timeout can kill
  // whole. With SETUID/SETGID libuv also drops every supplementary group (setgroups(0)).
  options.flags = UV_PROCESS_DETACHED;
  if (request.uid) {
    options.flags |= UV_PROCESS_SETUID;
    options.uid = *request.uid;
  }
  if (request.gid) {
    options.flags |= UV_PROCESS_SETGID;
    options.gid = *request.gid;
  }
  m_process.data = this;
  const int rc = uv_spawn(&m_loop, &m_process, &options);
  // uv_spawn initialises the handle even when it fails: it must be closed either way.
  m_process_open = true;
  ++m_open_handles;
  if (rc == 0) {
    m_result.pid = m_process.pid;
  }
  return rc;
}

void ChildRun::on_exit(uv_process_t* process, std::int64_t status, int signal) noexcept {
  auto* self = static_cast<ChildRun*>(process->data);
  self->m_exited = true;
  self->m_result.term_signal = signal;
  self->m_result.exit_code = signal == 0 ? status : -1;
  if (self->m_timed_out || self->m_stopped) {
    // The leader is gone but members of its group may have ignored SIGTERM; the group id stays
    // reserved while any member lives, so this reaches only them.
    self->signal_group(SIGKILL);
  }
  if (self->m_state == State::closing) {
    return;
  }
  self->m_state = State::draining;
  self->start_timer(std::chrono::milliseconds(k_drain_ms));
  self->maybe_finish();
}

void ChildRun::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buffer) noexcept {
  auto* self = static_cast<ChildRun*>(handle->data);
  if (self->m_length < self->m_max_output) {
    *buffer = uv_buf_init(self->m_output.get() + self->m_length,
                          static_cast<unsigned>(self->m_max_output - self->m_length));
  } else {
    *buffer = uv_buf_init(self->m_scratch.get(), static_cast<unsigned>(k_scratch_bytes));
  }
}

void ChildRun::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) noexcept {
  auto* self = static_cast<ChildRun*>(stream->data);
  if (nread > 0) {
    if (buffer->base == self->m_scratch.get()) {
      self->m_result.output_dropped += static_cast<std::uint64_t>(nread);
    } else {
      self->m_length += static_cast<std::size_t>(nread);
    }
    return;
  }
  if (nread < 0) { // end of file, or a read error: either way nothing more will come
    uv_read_stop(stream);
    self->m_eof = true;
    self->maybe_finish();
  }
}

void ChildRun::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ChildRun*>(timer->data);
  switch (self->m_state) {
  case State::running:
    self->m_timed_out = true;
    self->signal_group(SIGTERM);
    self->m_state = State::terminating;
    self->start_timer(self->m_limits.kill_grace);
    break;
  case State::terminating:
    self->signal_group(SIGKILL);
    self->m_state = State::killing;
    self->start_timer(self->m_limits.kill_grace);
    break;
  case State::killing:
    self->m_result.ending = ChildEnding::abandoned;
    self->finish();
    break;
  case State::draining:
    self->finish(); // a background child still holds the pipe: stop reading
    break;
  case State::closing:
    if (self->m_open_handles == 0) {
      self->deliver();
    }
    break;
  case State::idle: break;
  }
}

void ChildRun::kill() noexcept {
  if (m_state == State::idle || m_state == State::closing) {
    return;
  }
  m_stopped = true;
  if (m_exited) {
    finish();
    return;
  }
  signal_group(SIGKILL);
  m_state = State::killing;
  start_timer(m_limits.kill_grace);
}

void ChildRun::close() noexcept {
  if (m_closed) {
    return;
  }
  m_closed = true;
  if (m_state == State::idle) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
  } else {
    kill(); // the timer closes when the run has ended
  }
}

void ChildRun::signal_group(int signal) noexcept {
  if (m_result.pid > 0) {
    ::kill(-m_result.pid, signal);
  }
}

void ChildRun::start_timer(std::chrono::milliseconds delay) noexcept {
  uv_timer_start(&m_timer, &on_timer, static_cast<std::uint64_t>(delay.count()), 0);
}

void ChildRun::maybe_finish() noexcept {
  if (m_state == State::draining && m_exited && m_eof) {
    finish();
  }
}

void ChildRun::finish() noexcept {
  uv_timer_stop(&m_timer);
  m_state = State::closing;
  if (m_result.ending == ChildEnding::exited) {
    if (m_stopped) {
      m_result.ending = ChildEnding::stopped;
    } else if (m_timed_out) {
      m_result.ending = ChildEnding::timed_out;
    }
  }
  try {
    m_result.output.assign(m_output.get(), m_length);
  } catch (...) {
    m_result.output.clear();
  }
  if (m_pipe_open) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_pipe), &on_handle_closed);
  }
  if (m_process_open) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_process), &on_handle_closed);
  }
  if (m_open_handles == 0) {
    start_timer(std::chrono::milliseconds(0)); // report from the loop, never from start()
  }
}

void ChildRun::on_handle_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<ChildRun*>(handle->data);
  if (--self->m_open_handles == 0) {
    self->deliver();
  }
}

void ChildRun::deliver() noexcept {
  m_state = State::idle;
  m_process_open = m_pipe_open = false;
  Finished finished = std::move(m_finished);
  ChildResult result = std::move(m_result);
  if (m_closed) {
    uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), nullptr);
  }
  if (finished) {
    finished(std::move(result));
  }
}

} // namespace medic::agent::act
