// SPDX-License-Identifier: Apache-2.0
// Follows the kernel's log from /dev/kmsg on the loop: the descriptor is non-blocking and polled,
// each wake-up reads the records waiting (at most k_kmsg_records_per_turn, the rest at the next
// loop turn), and each record goes to on_record with its level, its message unescaped (the
// kernel writes bytes outside printable ASCII as \xNN) and made valid UTF-8. Resumes after a
// cursor of the same boot (records still in the kernel's ring after it; those overwritten before
// they were read are one gap), else starts at the end, as `tail -F` does with a new file.
// Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/tail/kmsg_record.hpp"
#include "shared/error.hpp"

typedef struct uv_loop_s uv_loop_t; // NOLINT: matches <uv.h>
typedef struct uv_poll_s uv_poll_t; // NOLINT: matches <uv.h>

namespace medic::agent::tail {

inline constexpr std::size_t k_kmsg_records_per_turn = 256;
// The kernel formats a record into at most 8 KiB (CONSOLE_EXT_LOG_MAX); a smaller buffer would
// make read(2) fail with EINVAL on a long record, forever.
inline constexpr std::size_t k_kmsg_record_bytes = 8192;

struct KmsgCallbacks {
  // `text`: the message, valid UTF-8 without NUL; valid during the call only.
  std::function<void(const KmsgRecord& record, std::string_view text)> on_record;
  // `count` records from `first_seq` on were overwritten in the ring before they were read.
  std::function<void(std::uint64_t first_seq, std::uint64_t count)> on_gap;
};

struct KmsgStats {
  std::uint64_t records = 0;   // handed to on_record
  std::uint64_t lost = 0;      // records reported in gaps
  std::uint64_t malformed = 0; // records that did not parse (logged, skipped)
};

class KmsgSource {
public:
  // Opens `path` (normally /dev/kmsg) and starts polling it. `boot_id_path` names the file with
  // the boot's identity (tests point both elsewhere). Fails with not_found or permission (the
  // message names the path) when the device is absent (a container) or not readable (no
  // CAP_SYSLOG with kernel.dmesg_restrict = 1).
  [[nodiscard]] static Result<std::unique_ptr<KmsgSource>> open(
      uv_loop_t& loop, const std::string& path, std::optional<KmsgCursor> resume,
      KmsgCallbacks callbacks, const std::string& boot_id_path = "/proc/sys/kernel/random/boot_id");
  KmsgSource(const KmsgSource&) = delete;
  KmsgSource& operator=(const KmsgSource&) = delete;
  // Stops (see stop()).
  ~KmsgSource();

  // Stops polling; the descriptor is closed once the loop has closed the poll handle.
  void stop() noexcept;
  // Reads and hands out the records waiting now, at most k_kmsg_records_per_turn.
  void drain() noexcept;

  // Where a restart resumes; nullopt until the first record was read (then a restart starts at
  // the end again, which loses nothing that was read).
  [[nodiscard]] std::optional<KmsgCursor> cursor() const noexcept;
  [[nodiscard]] const KmsgStats& stats() const noexcept { return m_stats; }

private:
  KmsgSource(int fd, uv_poll_t* poll, std::uint64_t boot, KmsgCallbacks callbacks);
  void handle(std::string_view bytes) noexcept;

  int m_fd;
  uv_poll_t* m_poll;
  std::uint64_t m_boot;
  KmsgCallbacks m_callbacks;
  std::uint64_t m_next_seq = 0;
  bool m_positioned = false; // m_next_seq is known (resumed, or a record was read)
  bool m_stopped = false;
  std::string m_path;
  std::unique_ptr<char[]> m_buffer; // a record as read, then its message unescaped
  KmsgStats m_stats;
  std::uint64_t m_warned_malformed = 0;
};

} // namespace medic::agent::tail
