// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/mount_table.hpp"

#include <array>
#include <string>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::array<std::string_view, 30> k_pseudo_types{
    "proc",      "sysfs",      "devtmpfs",   "devpts",    "tmpfs",   "ramfs",
    "cgroup",    "cgroup2",    "securityfs", "pstore",    "debugfs", "tracefs",
    "configfs",  "fusectl",    "mqueue",     "hugetlbfs", "bpf",     "binfmt_misc",
    "autofs",    "rpc_pipefs", "nsfs",       "squashfs",  "overlay", "efivarfs",
    "selinuxfs", "iso9660",    "nfsd",       "fuse",      "devfs",   "aufs"};

constexpr std::array<std::string_view, 17> k_network_types{
    "nfs",        "nfs4", "cifs",   "smb3", "smbfs",  "ncpfs",      "ceph",           "glusterfs",
    "9p",         "afs",  "lustre", "gpfs", "beegfs", "fuse.sshfs", "fuse.glusterfs", "fuse.s3fs",
    "fuse.rclone"};

bool is_octal(char c) noexcept {
  return c >= '0' && c <= '7';
}

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view value) noexcept {
  for (const std::string_view item : list) {
    if (item == value) {
      return true;
    }
  }
  return false;
}

} // namespace

std::string unescape_mount_field(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) &&
        is_octal(field[i + 2]) && is_octal(field[i + 3])) {
      const int value = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      out.push_back(static_cast<char>(value & 0xFF));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

Result<void> parse_mounts(std::string_view text, std::string_view file,
                          std::vector<MountEntry>& out) {
  out.clear();
  LineCursor lines(text);
  std::string_view line;
  while (lines.next(line)) {
    std::string_view rest = line;
    const std::string_view device = next_token(rest);
    if (device.empty()) {
      continue;
    }
    const std::string_view mount_point = next_token(rest);
    const std::string_view fstype = next_token(rest);
    if (fstype.empty()) {
      return fail(line_error(
          file, lines.line_number(),
          "expected '<device> <mount point> <type> ...', got '" + std::string(line) + "'"));
    }
    out.push_back(MountEntry{unescape_mount_field(device), unescape_mount_field(mount_point),
                             unescape_mount_field(fstype)});
  }
  return {};
}

FsClass classify_fstype(std::string_view fstype) noexcept {
  if (contains(k_network_types, fstype)) {
    return FsClass::network;
  }
  if (contains(k_pseudo_types, fstype) || fstype.starts_with("fuse.")) {
    return FsClass::pseudo;
  }
  return FsClass::local;
}

Result<void> MountFilter::validate() const {
  const auto check = [](std::string_view field, const std::vector<std::string>& patterns,
                        bool absolute) -> Result<void> {
    for (const std::string& pattern : patterns) {
      if (pattern.empty()) {
        return fail(ErrorCode::config, std::string(field) + ": empty pattern");
      }
      if (absolute && pattern.front() != '/' && pattern.front() != '*') {
        return fail(ErrorCode::config, std::string(field) + ": '" + pattern +
                                           "' is not an absolute path or a pattern");
      }
    }
    return {};
  };
  if (auto ok = check("disk.mounts", mounts, true); !ok) {
    return ok;
  }
  if (auto ok = check("disk.exclude_mounts", exclude_mounts, true); !ok) {
    return ok;
  }
  if (auto ok = check("disk.fstypes", fstypes, false); !ok) {
    return ok;
  }
  return check("disk.exclude_fstypes", exclude_fstypes, false);
}

bool MountFilter::selects(const MountEntry& mount) const noexcept {
  if (glob_match_any(exclude_mounts, mount.mount_point) ||
      glob_match_any(exclude_fstypes, mount.fstype)) {
    return false;
  }
  if (!mounts.empty()) {
    return glob_match_any(mounts, mount.mount_point);
  }
  if (!fstypes.empty()) {
    return glob_match_any(fstypes, mount.fstype);
  }
  switch (classify_fstype(mount.fstype)) {
  case FsClass::local: return true;
  case FsClass::pseudo: return pseudo_fs;
  case FsClass::network: return network_fs;
  }
  return false;
}

void select_mounts(const std::vector<MountEntry>& mounts, const MountFilter& filter,
                   std::size_t limit, std::vector<std::size_t>& out) {
  out.clear();
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    const MountEntry& mount = mounts[i];
    if (!filter.selects(mount)) {
      continue;
    }
    bool duplicate = false;
    for (std::size_t& kept : out) {
      if (mounts[kept].mount_point == mount.mount_point) {
        // Mounted over: statfs sees the later (top) one.
        duplicate = true;
        kept = i;
        break;
      }
      if (mount.device.starts_with('/') && mounts[kept].device == mount.device) {
        duplicate = true;
        if (mount.mount_point.size() < mounts[kept].mount_point.size()) {
          kept = i;
        }
        break;
      }
    }
    if (!duplicate && out.size() < limit) {
      out.push_back(i);
    }
  }
}

} // namespace medic::agent::sample
