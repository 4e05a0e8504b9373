// SPDX-License-Identifier: Apache-2.0
#include "agent/act/kind_rollback.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>

#include "agent/act/kind_exec.hpp"
#include "agent/act/params.hpp"

namespace medic::agent::act {

namespace {

constexpr std::size_t k_max_releases = 10'000;

struct Release {
  std::string name;
  dev_t dev = 0;
  ino_t ino = 0;
};

// The directories (never symlinks) in the releases directory, sorted by name.
std::vector<Release> list_releases(int releases_fd) {
  std::vector<Release> releases;
  const int fd = ::dup(releases_fd);
  DIR* dir = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (dir == nullptr) {
    if (fd >= 0) {
      ::close(fd);
    }
    return releases;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    struct stat st {};
    if (name == "." || name == ".." ||
        ::fstatat(releases_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      continue;
    }
    releases.push_back({std::string(name), st.st_dev, st.st_ino});
    if (releases.size() >= k_max_releases) {
      break;
    }
  }
  ::closedir(dir);
  std::sort(releases.begin(), releases.end(),
            [](const Release& a, const Release& b) { return a.name < b.name; });
  return releases;
}

struct LinkPlace {
  int dir_fd = -1;  // the directory holding current_link
  std::string name; // current_link's last component
};

std::optional<LinkPlace> open_link_place(const std::string& current_link) {
  const std::size_t slash = current_link.rfind('/');
  if (slash == std::string::npos || slash + 1 >= current_link.size()) {
    return std::nullopt;
  }
  const std::string dir = slash == 0 ? "/" : current_link.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  return LinkPlace{fd, current_link.substr(slash + 1)};
}

// The text of the new link: the old target with its last component replaced when the old
// target's directory is the releases directory, else an absolute path into releases_dir.
std::string new_target(const std::string& old_target, const LinkPlace& place, int releases_fd,
                       const std::string& releases_dir, const std::string& name) {
  const std::size_t slash = old_target.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : old_target.substr(0, slash + 1);
  struct stat parent_st {};
  struct stat releases_st {};
  if (::fstatat(place.dir_fd, parent.c_str(), &parent_st, 0) == 0 &&
      ::fstat(releases_fd, &releases_st) == 0 && parent_st.st_dev == releases_st.st_dev &&
      parent_st.st_ino == releases_st.st_ino) {
    return (slash == std::string::npos ? std::string() : parent) + name;
  }
  return releases_dir + "/" + name;
}

// Makes a symlink beside the link and renames it over: readers see the old or the new link,
// never none.
Result<void> switch_link(const LinkPlace& place, const std::string& target) {
  static std::atomic<unsigned> counter{0};
  const std::string temp = "." + place.name + ".medic-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1));
  if (::symlinkat(target.c_str(), place.dir_fd, temp.c_str()) != 0) {
    return fail(ErrorCode::io, errno_text("making the new link " + temp, errno));
  }
  if (::renameat(place.dir_fd, temp.c_str(), place.dir_fd, place.name.c_str()) != 0) {
    const int error = errno;
    ::unlinkat(place.dir_fd, temp.c_str(), 0);
    return fail(ErrorCode::io, errno_text("renaming the new link over " + place.name, error));
  }
  return {};
}

// From the current link to the release before it; refusals as described in the header.
Prepared plan_switch(const RollbackSpec& spec, int releases_fd, const LinkPlace& place,
                     std::string& target_text) {
  char buffer[PATH_MAX];
  const ssize_t got = ::readlinkat(place.dir_fd, place.name.c_str(), buffer, sizeof buffer);
  if (got < 0 || static_cast<std::size_t>(got) >= sizeof buffer) {
    return Prepared::refused(errno_text("rollback: reading the link " + spec.current_link,
                                        got < 0 ? errno : ENAMETOOLONG));
  }
  const std::string old_target(buffer, static_cast<std::size_t>(got));
  struct stat current {};
  if (::fstatat(place.dir_fd, old_target.c_str(), &current, 0) != 0) {
    return Prepared::refused(errno_text(
        "rollback: " + spec.current_link + " -> " + old_target + " does not resolve", errno));
  }
  const std::vector<Release> releases = list_releases(releases_fd);
  const auto found = std::find_if(releases.begin(), releases.end(), [&](const Release& release) {
    return release.dev == current.st_dev && release.ino == current.st_ino;
  });
  if (found == releases.end()) {
    return Prepared::refused("rollback: " + spec.current_link + " -> " + old_target +
                             " is not a release in " + spec.releases_dir);
  }
  if (found == releases.begin()) {
    return Prepared::refused("rollback: current release " + found->name + " is the oldest in " +
                             spec.releases_dir + ": there is no previous release");
  }
  const Release& previous = *(found - 1);
  target_text = new_target(old_target, place, releases_fd, spec.releases_dir, previous.name);
  Prepared prepared;
  prepared.plan =
      "rollback " + spec.current_link + ": current: " + found->name + " -> " + previous.name;
  return prepared;
}

} // namespace

Prepared run_rollback(const RollbackSpec& spec, const BoundParams& params,
                      const PrepareContext& ctx) {
  const int releases_fd = ::open(spec.releases_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (releases_fd < 0) {
    return Prepared::refused(errno_text("rollback: opening " + spec.releases_dir, errno));
  }
  const auto place = open_link_place(spec.current_link);
  if (!place) {
    ::close(releases_fd);
    return Prepared::refused("rollback: cannot open the directory of " + spec.current_link);
  }
  std::string target;
  Prepared prepared = plan_switch(spec, releases_fd, *place, target);
  ::close(releases_fd);
  std::vector<std::string> reload = expand_argv(spec.reload_argv, params);
  if (prepared.status == RunStatus::refused || ctx.dry_run) {
    ::close(place->dir_fd);
    if (prepared.status != RunStatus::refused) {
      prepared.status = RunStatus::dry_run;
      prepared.plan += reload.empty() ? "" : "; then reload: " + describe_argv(reload);
    }
    return prepared;
  }
  const Result<void> switched = switch_link(*place, target);
  ::close(place->dir_fd);
  if (!switched) {
    return Prepared::finished(RunStatus::failed, prepared.plan,
                              "rollback: " + switched.error().message());
  }
  if (reload.empty()) {
    prepared.status = RunStatus::succeeded;
    return prepared;
  }
  if (reload.front().empty() || reload.front().front() != '/') {
    return Prepared::finished(RunStatus::failed, prepared.plan,
                              "rollback: switched, but reload_argv[0] is not an absolute path");
  }
  prepared.plan += "; then reload: " + describe_argv(reload);
  prepared.next = NextStep::spawn;
  prepared.spawn.argv = std::move(reload);
  prepared.spawn.env = {std::string(k_default_path)};
  return prepared;
}

} // namespace medic::agent::act
