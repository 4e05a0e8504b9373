// SPDX-License-Identifier: Apache-2.0
// The mount table (/proc/self/mounts) and the choice of which mounts the disk space sampler
// measures. Parsing allocates (one entry per mount) and runs only when the table changed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shared/error.hpp"

namespace medic::agent::sample {

struct MountEntry {
  std::string device;      // "/dev/sda1", "tmpfs", "server:/export"
  std::string mount_point; // unescaped: "/mnt/my disk"
  std::string fstype;      // "ext4", "fuse.sshfs"

  friend bool operator==(const MountEntry&, const MountEntry&) = default;
};

// The kernel writes space, tab, newline and backslash in the first three fields as octal escapes
// (\040, \011, \012, \134); they come back as the characters. A backslash not followed by three
// octal digits is kept as it is.
[[nodiscard]] std::string unescape_mount_field(std::string_view field);

// Lines need at least device, mount point and type; a shorter line is an error naming `file` and
// the line. Blank lines are skipped. Replaces the contents of `out`.
[[nodiscard]] Result<void> parse_mounts(std::string_view text, std::string_view file,
                                        std::vector<MountEntry>& out);

enum class FsClass {
  local,   // a block device or similar: measured by default
  pseudo,  // proc, sysfs, tmpfs, devtmpfs, cgroup, overlay, squashfs, nsfs, autofs, fuse.*...
  network, // nfs, cifs, ceph, 9p, sshfs...: statfs may hang when the server is away
};

// Pseudo file systems hold no disk data of their own (tmpfs is memory, overlay repeats its
// backing file system, squashfs images are always 100% full), so they are noise by default.
[[nodiscard]] FsClass classify_fstype(std::string_view fstype) noexcept;

// Which mounts to measure. Patterns use '*' and '?' (see glob_match); a mount point pattern
// "/var/lib/docker/*" covers everything below that directory.
struct MountFilter {
  // Only these mount points when not empty, whatever their type (the user asked for them).
  std::vector<std::string> mounts;
  // Never these mount points.
  std::vector<std::string> exclude_mounts;
  // When not empty (and `mounts` is empty): only these types, pseudo or network ones included.
  std::vector<std::string> fstypes;
  // Never these types.
  std::vector<std::string> exclude_fstypes;
  // With `mounts` and `fstypes` empty: also measure pseudo / network file systems.
  bool pseudo_fs = false;
  bool network_fs = false;

  [[nodiscard]] Result<void> validate() const;
  [[nodiscard]] bool selects(const MountEntry& mount) const noexcept;
};

// Indexes into `mounts` of what `filter` selects, at most `limit`. Bind mounts (and btrfs
// subvolumes) of one device show the same space, so among entries with the same device path
// (starting with '/') only the one with the shortest mount point is kept. A mount point listed
// twice (mounted over) keeps its later, visible entry. Replaces `out`.
void select_mounts(const std::vector<MountEntry>& mounts, const MountFilter& filter,
                   std::size_t limit, std::vector<std::size_t>& out);

} // namespace medic::agent::sample
