// SPDX-License-Identifier: Apache-2.0
#include "agent/tail/kmsg_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <span>

#include <spdlog/spdlog.h>
#include <uv.h>

#include "agent/tail/utf8.hpp"
#include "shared/uv/handle.hpp"

namespace medic::agent::tail {

namespace {

void on_readable(uv_poll_t* poll, int status, int /*events*/) {
  if (status == 0) {
    static_cast<KmsgSource*>(poll->data)->drain();
  }
}

ErrorCode code_of(int error_number) noexcept {
  switch (error_number) {
  case ENOENT:
  case ENXIO:
  case ENODEV: return ErrorCode::not_found;
  case EACCES:
  case EPERM: return ErrorCode::permission;
  default: return ErrorCode::io;
  }
}

// The boot's identity, 0 when it cannot be read (then no cursor matches and reading starts at
// the end: nothing is read twice).
std::uint64_t read_boot(const std::string& path) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  char text[64];
  const ssize_t got = ::read(fd, text, sizeof text);
  ::close(fd);
  return got > 0 ? kmsg_boot_identity(std::string_view(text, static_cast<std::size_t>(got))) : 0;
}

} // namespace

Result<std::unique_ptr<KmsgSource>> KmsgSource::open(uv_loop_t& loop, const std::string& path,
                                                     std::optional<KmsgCursor> resume,
                                                     KmsgCallbacks callbacks,
                                                     const std::string& boot_id_path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int error_number = errno;
    return fail(code_of(error_number), errno_text("opening " + path, error_number));
  }
  const std::uint64_t boot = read_boot(boot_id_path);
  const bool resuming = resume && boot != 0 && resume->boot == boot;
  // SEEK_SET: the oldest record still in the ring; SEEK_END: after the newest.
  if (::lseek(fd, 0, resuming ? SEEK_SET : SEEK_END) < 0) {
    const int error_number = errno;
    ::close(fd);
    return fail(ErrorCode::io, errno_text("seeking in " + path, error_number));
  }
  auto* poll = new uv_poll_t{};
  if (const int rc = uv_poll_init(&loop, poll, fd); rc < 0) {
    delete poll;
    ::close(fd);
    return fail(ErrorCode::io, path + ": uv_poll_init: " + uv_strerror(rc));
  }
  std::unique_ptr<KmsgSource> source(new KmsgSource(fd, poll, boot, std::move(callbacks)));
  source->m_path = path;
  if (resuming) {
    source->m_next_seq = resume->next_seq;
    source->m_positioned = true;
  }
  poll->data = source.get();
  if (const int rc = uv_poll_start(poll, UV_READABLE, on_readable); rc < 0) {
    return fail(ErrorCode::io, path + ": uv_poll_start: " + uv_strerror(rc));
  }
  return source;
}

KmsgSource::KmsgSource(int fd, uv_poll_t* poll, std::uint64_t boot, KmsgCallbacks callbacks)
    : m_fd(fd),
      m_poll(poll),
      m_boot(boot),
      m_callbacks(std::move(callbacks)),
      m_buffer(std::make_unique_for_overwrite<char[]>(2 * k_kmsg_record_bytes)) {}

KmsgSource::~KmsgSource() {
  stop();
}

void KmsgSource::stop() noexcept {
  if (m_stopped) {
    return;
  }
  m_stopped = true;
  uv::close_poll(m_poll, m_fd);
}

std::optional<KmsgCursor> KmsgSource::cursor() const noexcept {
  if (!m_positioned || m_boot == 0) {
    return std::nullopt;
  }
  return KmsgCursor{m_boot, m_next_seq};
}

void KmsgSource::drain() noexcept {
  for (std::size_t n = 0; n < k_kmsg_records_per_turn && !m_stopped; ++n) {
    const ssize_t got = ::read(m_fd, m_buffer.get(), k_kmsg_record_bytes);
    if (got > 0) {
      handle(std::string_view(m_buffer.get(), static_cast<std::size_t>(got)));
      continue;
    }
    if (got < 0 && errno == EINTR) {
      continue;
    }
    // EPIPE: the record due next was overwritten; the next read returns the oldest one left,
    // and its sequence number tells how many went (handle() reports the gap).
    if (got < 0 && errno == EPIPE) {
      continue;
    }
    if (got < 0 && errno != EAGAIN) {
      const int error_number = errno;
      spdlog::warn("{}; kernel messages are no longer followed",
                   errno_text("reading " + m_path, error_number));
      stop();
    }
    return; // EAGAIN: nothing more now
  }
}

void KmsgSource::handle(std::string_view bytes) noexcept {
  auto record = parse_kmsg_record(bytes);
  if (!record) {
    // Only a kernel with a new format would do this: say so a few times, not for every record.
    if (m_stats.malformed++ < 3) {
      spdlog::warn("{}: {}", m_path, record.error().message());
    }
    return;
  }
  if (!m_positioned) {
    m_next_seq = record->seq; // the first record after the end we started at
    m_positioned = true;
  }
  const KmsgAdmission admission = admit_kmsg(m_next_seq, record->seq);
  if (!admission.deliver) {
    return;
  }
  if (admission.lost > 0) {
    m_stats.lost += admission.lost;
    if (m_callbacks.on_gap) {
      m_callbacks.on_gap(record->seq - admission.lost, admission.lost);
    }
  }
  ++m_stats.records;
  if (!m_callbacks.on_record) {
    return;
  }
  // The message is escaped ASCII: unescape it into the buffer's second half, then, when the
  // bytes are not UTF-8, repair them into the first half (the record is parsed by then; at most
  // a quarter of an 8 KiB record's bytes are escaped non-UTF-8 ones, each repaired to 3 bytes).
  std::string_view text = record->message;
  if (text.find('\\') != std::string_view::npos) {
    char* unescaped = m_buffer.get() + k_kmsg_record_bytes;
    text = std::string_view(unescaped,
                            unescape_kmsg(text, std::span<char>(unescaped, k_kmsg_record_bytes)));
    if (!is_clean_utf8(text)) {
      const Utf8Repair repair =
          repair_utf8(text, std::span<char>(m_buffer.get(), k_kmsg_record_bytes));
      text = std::string_view(m_buffer.get(), repair.size);
    }
  }
  m_callbacks.on_record(*record, text);
}

} // namespace medic::agent::tail
