// SPDX-License-Identifier: Apache-2.0
// The kernel's log as /dev/kmsg hands it out (Documentation/ABI/testing/dev-kmsg): one record per
// read(2),
//   "<priority>,<sequence>,<microseconds since boot>,<flags>[,<more>];<message>\n"
// then zero or more " KEY=value\n" lines (device properties). priority = facility * 8 + level.
// The kernel escapes every byte of the message below 0x20 or from 0x7f up, and the backslash,
// as \xNN (so UTF-8 text arrives escaped too). This is where OOM-killer, segfault and I/O error
// lines appear on a host whose system logger is the journal alone (Debian 12's default: no
// /var/log/syslog). Pure functions, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "shared/error.hpp"

namespace medic::agent::tail {

struct KmsgRecord {
  std::uint8_t level = 0;     // syslog severity: 0 emerg .. 3 err .. 7 debug
  std::uint32_t facility = 0; // 0 kern; 1 user (lines written to /dev/kmsg), ...
  std::uint64_t seq = 0;      // consecutive over the boot; a jump means records were lost
  std::uint64_t usec = 0;     // microseconds since boot
  std::string_view message;   // up to the first '\n'; a view into the parsed bytes
};

// Parses one record as read(2) returned it. Errors say what is wrong ("kernel log record: ...").
[[nodiscard]] Result<KmsgRecord> parse_kmsg_record(std::string_view bytes);

// Undoes the kernel's \xNN escapes of `message` into `out` (at least message.size() bytes: the
// text only shrinks); returns the size written. Other backslashes are copied as they are. The
// result may be any bytes, not necessarily UTF-8.
[[nodiscard]] std::size_t unescape_kmsg(std::string_view message, std::span<char> out) noexcept;

// Where reading resumes: the next sequence number to hand out, in the boot it belongs to (a
// reboot starts the numbers again from 0). Saved as a tail cursor (device = boot, offset = next).
struct KmsgCursor {
  std::uint64_t boot = 0;
  std::uint64_t next_seq = 0;
  friend bool operator==(const KmsgCursor&, const KmsgCursor&) = default;
};

struct KmsgAdmission {
  bool deliver = false;   // false: handed out before (a resumed reader reads from the ring's start)
  std::uint64_t lost = 0; // records between the cursor and this one, overwritten before read
};

// Decides about the record numbered `seq` given the next number expected, and moves `next_seq`
// past it when it is handed out.
[[nodiscard]] KmsgAdmission admit_kmsg(std::uint64_t& next_seq, std::uint64_t seq) noexcept;

// A 64-bit identity of the running boot from /proc/sys/kernel/random/boot_id's text (FNV-1a of
// its first line); 0 never comes out, so 0 can mean "unknown".
[[nodiscard]] std::uint64_t kmsg_boot_identity(std::string_view boot_id_text) noexcept;

} // namespace medic::agent::tail
