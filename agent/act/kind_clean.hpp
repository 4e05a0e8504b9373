// SPDX-License-Identifier: Apache-2.0
// The `clean` kind, done whole in the threadpool. The directory is opened with
// O_DIRECTORY|O_NOFOLLOW and walked only through directory fds (openat, fstatat with
// AT_SYMLINK_NOFOLLOW, unlinkat): no path string is ever resolved again, a symlink is never
// followed and a symlinked directory is never entered, so nothing outside the directory can be
// touched. A symlink inside is an entry like a file: deleted when it matches (the link, never its
// target). Directories themselves are never deleted.
//
// `directory` and `name_glob` may be "{param}" templates. What goes: regular files (and symlinks)
// matching name_glob (fnmatch, on the entry's name) that are older than older_than; then, when
// max_total_bytes is set and the matching files left still add up to more, the oldest first until
// the total is at most max_total_bytes. Before each unlink the entry is checked again to be the
// same inode that was scanned. The scan stops after k_max_clean_entries entries or below
// k_max_clean_depth directories (said in the plan).
#pragma once

#include <cstddef>

#include "agent/act/action.hpp"
#include "agent/act/kind_common.hpp"

namespace medic::agent::act {

inline constexpr std::size_t k_max_clean_entries = 100'000;
inline constexpr std::size_t k_max_clean_depth = 32;

// Threadpool. With ctx.dry_run nothing is deleted: the plan says what would be.
[[nodiscard]] Prepared run_clean(const CleanSpec& spec, const BoundParams& params,
                                 const PrepareContext& ctx);

} // namespace medic::agent::act
