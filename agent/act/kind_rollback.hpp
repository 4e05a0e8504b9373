// SPDX-License-Identifier: Apache-2.0
// The `rollback` kind, for the releases/ + current layout: the releases are the directories
// (not symlinks) in releases_dir sorted by name; `current_link` is a symlink to one of them. The
// switch goes to the release sorted just before the current one, atomically: a new symlink is
// made beside current_link and renamed over it, so current_link always names a release. The new
// link keeps the old one's form (a relative "releases/v2" becomes "releases/v1") when the old
// target's directory is releases_dir, else it is absolute.
//
// Refused when current_link is not a symlink, points outside releases_dir (compared by device
// and inode, so "../x" tricks and a releases_dir reached through another path are both judged
// by what they are), or there is no previous release. The switch runs in the threadpool; the
// reload_argv (if any) is then spawned like an exec (agent's user, PATH only, cwd "/").
#pragma once

#include "agent/act/action.hpp"
#include "agent/act/kind_common.hpp"

namespace medic::agent::act {

// Threadpool. With ctx.dry_run the link is left alone and the plan says what would change.
[[nodiscard]] Prepared run_rollback(const RollbackSpec& spec, const BoundParams& params,
                                    const PrepareContext& ctx);

} // namespace medic::agent::act
