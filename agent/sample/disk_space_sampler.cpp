// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/disk_space_sampler.hpp"

#include <linux/magic.h>
#include <poll.h>
#include <sys/vfs.h>

#include <cerrno>
#include <string>
#include <utility>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::size_t k_mounts_min_capacity = std::size_t{16} * 1024;
constexpr std::size_t k_mounts_max_capacity = std::size_t{4} * 1024 * 1024;
constexpr std::size_t k_max_mounts_limit = 4096;

double percent(double part, double whole) noexcept {
  return whole > 0 ? part / whole * 100.0 : 0.0;
}

} // namespace

Result<void> DiskSpaceConfig::validate() const {
  if (interval_ms < 1000) {
    return fail(ErrorCode::config,
                "disk.interval: must be at least 1 s, not " + std::to_string(interval_ms) + " ms");
  }
  if (max_mounts == 0 || max_mounts > k_max_mounts_limit) {
    return fail(ErrorCode::config,
                "disk.max_mounts: must be between 1 and " + std::to_string(k_max_mounts_limit));
  }
  return filter.validate();
}

DiskSpaceSampler::DiskSpaceSampler(DiskSpaceConfig config, std::filesystem::path proc_root)
    : m_config(std::move(config)), m_proc_root(std::move(proc_root)) {
  m_work.data = this;
}

Result<void> DiskSpaceSampler::open(uv_loop_t& loop) {
  if (m_in_flight) {
    return fail(ErrorCode::internal, "disk sampler: open() while a round is in flight");
  }
  if (auto valid = m_config.validate(); !valid) {
    return valid;
  }
  auto file = ProcFile::open_fitting(m_proc_root / "self" / "mounts", k_mounts_min_capacity,
                                     k_mounts_max_capacity);
  if (!file) {
    return fail(std::move(file).error());
  }
  m_file = std::move(*file);
  struct statfs fs {};
  m_pollable = ::fstatfs(m_file.fd(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
  m_read_again = false;
  m_loop = &loop;
  m_closed = false;
  m_started_once = false;
  m_mounts_text.clear();
  m_selected.reserve(m_config.max_mounts);
  m_measures.reserve(m_config.max_mounts);
  return refresh_mounts();
}

Result<void> DiskSpaceSampler::refresh_mounts() {
  auto text = m_file.read();
  while (text && m_file.filled() && m_file.capacity() < k_mounts_max_capacity) {
    // The table outgrew the buffer (many new mounts): a rare allocation, then read it whole.
    m_file.grow(m_file.capacity() * 2);
    text = m_file.read();
  }
  if (!text) {
    return fail(std::move(text).error());
  }
  if (*text == m_mounts_text && !m_mounts.empty()) {
    return {};
  }
  auto parsed = parse_mounts(*text, m_file.path().string(), m_mounts);
  if (!parsed) {
    m_mounts_text.clear();
    m_selected.clear();
    return parsed;
  }
  m_mounts_text.assign(*text);
  select_mounts(m_mounts, m_config.filter, m_config.max_mounts, m_selected);
  return {};
}

bool DiskSpaceSampler::mount_table_changed() noexcept {
  // The file remembers the change it last reported (since open()): POLLPRI means a mount or an
  // unmount since then. A failed poll reads the table too.
  pollfd watch{m_file.fd(), POLLPRI, 0};
  const int ready = ::poll(&watch, 1, 0);
  return ready != 0 && (ready < 0 || (watch.revents & (POLLPRI | POLLERR)) != 0);
}

std::vector<const MountEntry*> DiskSpaceSampler::selected_mounts() const {
  std::vector<const MountEntry*> out;
  for (const std::size_t index : m_selected) {
    out.push_back(&m_mounts[index]);
  }
  return out;
}

Result<void> DiskSpaceSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  if (m_loop == nullptr || m_closed) {
    return fail(ErrorCode::internal, "disk sampler: sample() called before a successful open()");
  }
  if (m_started_once && now_ms - m_last_start_ms < m_config.interval_ms) {
    return {};
  }
  if (m_in_flight) {
    ++m_rounds_skipped;
    return {};
  }
  m_started_once = true;
  m_last_start_ms = now_ms;
  if (!m_pollable || m_read_again || mount_table_changed()) {
    auto refreshed = refresh_mounts();
    m_read_again = !refreshed;
    if (!refreshed) {
      return refreshed;
    }
  }
  if (m_selected.empty()) {
    return {};
  }
  m_measures.resize(m_selected.size());
  m_sink = &sink;
  m_round_ms = now_ms;
  if (const int rc = uv_queue_work(m_loop, &m_work, &work, &after_work); rc != 0) {
    return fail(ErrorCode::io, std::string("disk sampler: queueing a round: ") + uv_strerror(rc));
  }
  m_in_flight = true;
  return {};
}

void DiskSpaceSampler::work(uv_work_t* request) noexcept {
  // Threadpool thread: touches only the mount paths (not changed while in flight) and
  // m_measures.
  auto* self = static_cast<DiskSpaceSampler*>(request->data);
  for (std::size_t i = 0; i < self->m_selected.size(); ++i) {
    Measure& measure = self->m_measures[i];
    const std::string& path = self->m_mounts[self->m_selected[i]].mount_point;
    measure.error_number = ::statvfs(path.c_str(), &measure.stats) == 0 ? 0 : errno;
  }
}

void DiskSpaceSampler::after_work(uv_work_t* request, int status) noexcept {
  auto* self = static_cast<DiskSpaceSampler*>(request->data);
  self->m_in_flight = false;
  if (status != 0 || self->m_closed) {
    return;
  }
  self->report();
}

void DiskSpaceSampler::report() noexcept {
  for (std::size_t i = 0; i < m_selected.size(); ++i) {
    report_mount(m_mounts[m_selected[i]], m_measures[i]);
  }
}

void DiskSpaceSampler::report_mount(const MountEntry& mount, const Measure& measure) noexcept {
  if (measure.error_number != 0) {
    try {
      m_sink->error("disk", Error(ErrorCode::io, errno_text("statvfs " + mount.mount_point,
                                                            measure.error_number)));
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory building the message
    }
    return;
  }
  const struct statvfs& st = measure.stats;
  const double unit = static_cast<double>(st.f_frsize != 0 ? st.f_frsize : st.f_bsize);
  if (st.f_blocks == 0) {
    return; // nothing to measure (a pseudo file system let in by the filter)
  }
  const double total = static_cast<double>(st.f_blocks) * unit;
  const double used =
      static_cast<double>(st.f_blocks - (st.f_bfree < st.f_blocks ? st.f_bfree : st.f_blocks)) *
      unit;
  const double available = static_cast<double>(st.f_bavail) * unit;
  const protocol::LabelView labels[] = {{"mount", label_value(mount.mount_point)},
                                        {"device", label_value(mount.device)},
                                        {"fstype", label_value(mount.fstype)}};
  // As df: the share of what non-root users could have, so 100% means they are out of space.
  m_sink->add("disk.used_pct", percent(used, used + available), m_round_ms, labels);
  m_sink->add("disk.free_bytes", available, m_round_ms, labels);
  m_sink->add("disk.total_bytes", total, m_round_ms, labels);
  if (st.f_files > 0) {
    const double inodes_used =
        static_cast<double>(st.f_files - (st.f_ffree < st.f_files ? st.f_ffree : st.f_files));
    m_sink->add("disk.inodes_used_pct", percent(inodes_used, static_cast<double>(st.f_files)),
                m_round_ms, labels);
  }
}

void DiskSpaceSampler::close() noexcept {
  m_closed = true;
  if (m_in_flight) {
    // Fails (UV_EBUSY) when the job already runs: then it completes and reports nothing.
    (void)uv_cancel(reinterpret_cast<uv_req_t*>(&m_work));
  }
}

} // namespace medic::agent::sample
