// SPDX-License-Identifier: Apache-2.0
#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <thread>

#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace medic::test {

namespace {

ExitStatus decode(int raw) {
  ExitStatus status;
  if (WIFEXITED(raw)) {
    status.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    status.signal = WTERMSIG(raw);
  }
  return status;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path, const std::vector<std::string>& extra_env) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    env_storage.emplace_back(*e);
  }
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> env;
  for (auto& entry : env_storage) {
    env.push_back(entry.data());
  }
  env.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error("cannot spawn " + argv[0]);
  }
  return pid;
}

} // namespace

void sleep_for(std::chrono::milliseconds duration) {
  std::this_thread::sleep_for(duration);
}

Process::Process(std::vector<std::string> argv, const std::filesystem::path& log_path,
                 std::vector<std::string> extra_env)
    : m_pid(spawn(argv, log_path.string(), log_path.string(), extra_env)) {}

Process::Process(std::vector<std::string> argv, const std::filesystem::path& out_path,
                 const std::filesystem::path& err_path, std::vector<std::string> extra_env)
    : m_pid(spawn(argv, out_path.string(), err_path.string(), extra_env)) {}

Process::~Process() {
  if (running()) {
    ::kill(m_pid, SIGKILL);
    (void)wait_for(std::chrono::seconds(5));
  }
}

void Process::signal(int signum) const {
  ::kill(m_pid, signum);
}

std::optional<ExitStatus> Process::wait_for(std::chrono::milliseconds timeout) {
  if (m_status) {
    return m_status;
  }
  wait_until(
      [this] {
        int raw = 0;
        if (::waitpid(m_pid, &raw, WNOHANG) == m_pid) {
          m_status = decode(raw);
        }
        return m_status.has_value();
      },
      timeout, std::chrono::milliseconds(10));
  return m_status;
}

bool Process::running() {
  return m_pid > 0 && !wait_for(std::chrono::milliseconds(0)).has_value();
}

ChildResult run_in_child(const std::function<std::string()>& body) {
  constexpr std::size_t k_max_reply = 64 * 1024;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("run_in_child: pipe failed");
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error("run_in_child: fork failed");
  }
  if (child == 0) {
    ::close(fds[0]);
    int code = 0;
    std::string reply;
    try {
      reply = body();
    } catch (const std::exception& e) {
      reply = e.what();
      code = 1;
    } catch (...) { // a test framework's failure: it must not go on running tests in here
      reply = "the body threw";
      code = 1;
    }
    const std::size_t length = std::min(reply.size(), k_max_reply);
    std::size_t sent = 0;
    while (sent < length) {
      const ssize_t n = ::write(fds[1], reply.data() + sent, length - sent);
      if (n <= 0) {
        code = 2;
        break;
      }
      sent += static_cast<std::size_t>(n);
    }
    ::_exit(code); // no destructor, no atexit handler of the parent's state runs here
  }
  ::close(fds[1]);
  ChildResult result;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || result.reply.size() >= k_max_reply) {
      break;
    }
    result.reply.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int raw = 0;
  while (::waitpid(child, &raw, 0) < 0 && errno == EINTR) {
  }
  result.status = decode(raw);
  return result;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir dir;
  const auto out = dir / "stdout";
  const auto err = dir / "stderr";
  CommandResult result;
  {
    Process process(argv, out, err, {});
    auto status = process.wait_for(timeout);
    result.status = status.value_or(ExitStatus{});
  }
  result.output = read_file(out);
  result.errors = read_file(err);
  return result;
}

} // namespace medic::test
