// SPDX-License-Identifier: Apache-2.0
#include "agent/act/kind_clean.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>

#include "agent/act/params.hpp"

namespace medic::agent::act {

namespace {

constexpr int k_dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

struct DirNode {
  std::size_t parent = 0; // index in Walk::dirs; the root (index 0) is its own parent
  std::string name;
};

struct Entry {
  std::size_t dir = 0;
  std::string name;
  std::uint64_t bytes = 0;
  std::int64_t mtime_ms = 0;
  dev_t dev = 0;
  ino_t ino = 0;
};

struct Walk {
  const std::string* glob = nullptr;
  bool recursive = false;
  std::vector<DirNode> dirs{DirNode{}};
  std::vector<Entry> entries;
  std::size_t scanned = 0;
  bool truncated = false;
  bool too_deep = false;
};

std::int64_t mtime_ms(const struct stat& st) noexcept {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

// Reads the directory open at `fd` (taken over and closed) and, when recursive, the directories
// below it, each opened relative to its parent without following a symlink.
void walk_dir(int fd, std::size_t dir_index, std::size_t depth, Walk& walk) {
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return;
  }
  while (const dirent* item = ::readdir(dir)) {
    const std::string_view name = item->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    if (++walk.scanned > k_max_clean_entries) {
      walk.truncated = true;
      break;
    }
    struct stat st {};
    if (::fstatat(::dirfd(dir), item->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue; // vanished meanwhile
    }
    if (S_ISDIR(st.st_mode)) {
      if (!walk.recursive) {
        continue;
      }
      if (depth + 1 >= k_max_clean_depth) {
        walk.too_deep = true;
        continue;
      }
      const int child = ::openat(::dirfd(dir), item->d_name, k_dir_flags);
      if (child >= 0) {
        walk.dirs.push_back({dir_index, std::string(name)});
        walk_dir(child, walk.dirs.size() - 1, depth + 1, walk);
      }
      continue;
    }
    const bool candidate = S_ISREG(st.st_mode) || S_ISLNK(st.st_mode);
    if (candidate && (walk.glob->empty() || ::fnmatch(walk.glob->c_str(), item->d_name, 0) == 0)) {
      walk.entries.push_back({dir_index, std::string(name), static_cast<std::uint64_t>(st.st_size),
                              mtime_ms(st), st.st_dev, st.st_ino});
    }
    if (walk.truncated) {
      break;
    }
  }
  ::closedir(dir);
}

std::string relative_path(const Walk& walk, const Entry& entry) {
  std::string path = entry.name;
  for (std::size_t index = entry.dir; index != 0; index = walk.dirs[index].parent) {
    path.insert(0, walk.dirs[index].name + "/");
  }
  return path;
}

// Opens the directory `index` of the walk by going down from the root fd, one openat with
// O_NOFOLLOW per level: a directory swapped for a symlink since the scan fails here.
int open_walked_dir(int root_fd, const Walk& walk, std::size_t index) {
  std::vector<std::size_t> chain;
  for (; index != 0; index = walk.dirs[index].parent) {
    chain.push_back(index);
  }
  int fd = ::dup(root_fd);
  for (auto it = chain.rbegin(); it != chain.rend() && fd >= 0; ++it) {
    const int next = ::openat(fd, walk.dirs[*it].name.c_str(), k_dir_flags);
    ::close(fd);
    fd = next;
  }
  return fd;
}

// Indexes of the entries to delete: those older than older_than, then the oldest of the rest
// while the rest is over max_total_bytes.
std::vector<std::size_t> choose(const CleanSpec& spec, const Walk& walk, std::int64_t now_ms) {
  std::vector<std::size_t> order(walk.entries.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return walk.entries[a].mtime_ms < walk.entries[b].mtime_ms;
  });
  std::vector<std::size_t> chosen;
  std::uint64_t kept_bytes = 0;
  std::vector<std::size_t> kept;
  for (const std::size_t index : order) {
    const Entry& entry = walk.entries[index];
    if (spec.older_than.count() > 0 && now_ms - entry.mtime_ms >= spec.older_than.count()) {
      chosen.push_back(index);
    } else {
      kept.push_back(index);
      kept_bytes += entry.bytes;
    }
  }
  if (spec.max_total_bytes > 0) {
    for (const std::size_t index : kept) { // oldest first
      if (kept_bytes <= spec.max_total_bytes) {
        break;
      }
      chosen.push_back(index);
      kept_bytes -= walk.entries[index].bytes;
    }
  }
  return chosen;
}

struct Deleted {
  std::size_t files = 0;
  std::uint64_t bytes = 0;
  std::size_t failed = 0;
  std::string first_error;
};

Deleted delete_chosen(int root_fd, const Walk& walk, std::vector<std::size_t> chosen, bool dry_run,
                      Prepared& prepared, std::size_t max_output) {
  std::stable_sort(chosen.begin(), chosen.end(), [&](std::size_t a, std::size_t b) {
    return walk.entries[a].dir < walk.entries[b].dir;
  });
  Deleted deleted;
  std::size_t open_index = 0;
  int dir_fd = -1;
  for (const std::size_t index : chosen) {
    const Entry& entry = walk.entries[index];
    if (!dry_run && (dir_fd < 0 || open_index != entry.dir)) {
      if (dir_fd >= 0) {
        ::close(dir_fd);
      }
      dir_fd = open_walked_dir(root_fd, walk, entry.dir);
      open_index = entry.dir;
    }
    struct stat st {};
    int error = 0;
    if (!dry_run) {
      if (dir_fd < 0 || ::fstatat(dir_fd, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        error = dir_fd < 0 ? ELOOP : errno;
      } else if (st.st_dev != entry.dev || st.st_ino != entry.ino) {
        error = ESTALE; // replaced since the scan: not what was chosen
      } else if (::unlinkat(dir_fd, entry.name.c_str(), 0) != 0) {
        error = errno;
      }
    }
    if (error != 0 && error != ENOENT) {
      if (deleted.failed++ == 0) {
        deleted.first_error = relative_path(walk, entry) + ": " + std::strerror(error);
      }
      continue;
    }
    if (error == 0) {
      ++deleted.files;
      deleted.bytes += entry.bytes;
      append_bounded(prepared.output, prepared.output_dropped, relative_path(walk, entry) + "\n",
                     max_output);
    }
  }
  if (dir_fd >= 0) {
    ::close(dir_fd);
  }
  return deleted;
}

std::string describe_rule(const CleanSpec& spec, const std::string& glob) {
  std::string rule;
  if (!glob.empty()) {
    rule += "matching " + quote_value(glob);
  }
  if (spec.older_than.count() > 0) {
    rule += (rule.empty() ? "" : ", ") + std::string("older than ") +
            std::to_string(spec.older_than.count()) + " ms";
  }
  if (spec.max_total_bytes > 0) {
    rule += (rule.empty() ? "" : ", ") + std::string("oldest first down to ") +
            std::to_string(spec.max_total_bytes) + " bytes";
  }
  return rule;
}

std::string describe_outcome(const CleanSpec& spec, const std::string& directory,
                             const std::string& glob, const Walk& walk, const Deleted& deleted,
                             bool dry_run) {
  std::string plan = "clean " + directory + (spec.recursive ? " (recursive)" : "") + ", " +
                     describe_rule(spec, glob) + ": " + (dry_run ? "would delete " : "deleted ") +
                     std::to_string(deleted.files) + " of " + std::to_string(walk.entries.size()) +
                     " files, " + std::to_string(deleted.bytes) + " bytes; " +
                     std::to_string(std::min(walk.scanned, k_max_clean_entries)) +
                     " entries scanned";
  if (walk.truncated) {
    plan += " (stopped at the bound of " + std::to_string(k_max_clean_entries) + ")";
  }
  if (walk.too_deep) {
    plan += " (directories below depth " + std::to_string(k_max_clean_depth) + " not entered)";
  }
  return plan;
}

} // namespace

Prepared run_clean(const CleanSpec& spec, const BoundParams& params, const PrepareContext& ctx) {
  const std::string directory = expand_value(spec.directory, params);
  const std::string glob = expand_value(spec.name_glob, params);
  if (directory.empty() || directory.front() != '/') {
    return Prepared::refused("clean: directory " + quote_value(directory) + " is not absolute");
  }
  if (spec.older_than.count() <= 0 && spec.max_total_bytes == 0) {
    return Prepared::refused("clean: neither older_than nor max_total_bytes is set");
  }
  const int root_fd = ::open(directory.c_str(), k_dir_flags);
  if (root_fd < 0) {
    const int error = errno;
    return Prepared::finished(
        error == ELOOP || error == ENOTDIR ? RunStatus::refused : RunStatus::failed, {},
        errno_text("clean: opening " + directory, error));
  }
  Walk walk;
  walk.glob = &glob;
  walk.recursive = spec.recursive;
  walk_dir(::dup(root_fd), 0, 0, walk);
  Prepared prepared;
  const std::vector<std::size_t> chosen = choose(spec, walk, ctx.now_unix_ms);
  const Deleted deleted =
      delete_chosen(root_fd, walk, chosen, ctx.dry_run, prepared, ctx.max_output);
  ::close(root_fd);

  prepared.plan = describe_outcome(spec, directory, glob, walk, deleted, ctx.dry_run);
  if (ctx.dry_run) {
    prepared.status = RunStatus::dry_run;
  } else if (deleted.failed > 0) {
    prepared.status = RunStatus::failed;
    prepared.reason = std::to_string(deleted.failed) +
                      " files could not be deleted (first: " + deleted.first_error + ")";
  } else {
    prepared.status = RunStatus::succeeded;
  }
  return prepared;
}

} // namespace medic::agent::act
