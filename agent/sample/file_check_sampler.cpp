// SPDX-License-Identifier: Apache-2.0
#include "agent/sample/file_check_sampler.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <utility>

#include "agent/sample/text_scan.hpp"

namespace medic::agent::sample {

namespace {

constexpr std::int64_t k_min_interval_ms = 1000;
constexpr std::size_t k_max_files = 256;
constexpr std::size_t k_max_path_bytes = 4096;

Result<void> check_path(const std::string& where, const std::string& path) {
  if (path.empty() || path.front() != '/' || path.size() > k_max_path_bytes ||
      path.find('\0') != std::string::npos) {
    return fail(ErrorCode::config, where + ".path: '" + path + "' is not an absolute path");
  }
  return {};
}

} // namespace

Result<void> FileChecksConfig::validate() const {
  if (interval_ms < k_min_interval_ms) {
    return fail(ErrorCode::config,
                "files.interval: must be at least 1 s, not " + std::to_string(interval_ms) + " ms");
  }
  if (files.size() > k_max_files) {
    return fail(ErrorCode::config, "files: at most " + std::to_string(k_max_files) +
                                       " files, not " + std::to_string(files.size()));
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string where = "files[" + std::to_string(i) + "]";
    if (auto ok = check_label_name(where + ".name", files[i].name); !ok) {
      return ok;
    }
    if (auto ok = check_path(where, files[i].path); !ok) {
      return ok;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (files[j].name == files[i].name) {
        return fail(ErrorCode::config, where + ".name: '" + files[i].name + "' is used twice");
      }
    }
  }
  return {};
}

FileCheckSampler::FileCheckSampler(FileChecksConfig config) : m_config(std::move(config)) {
  m_work.data = this;
}

Result<void> FileCheckSampler::open(uv_loop_t& loop) {
  if (m_in_flight) {
    return fail(ErrorCode::internal, "file sampler: open() while a round is in flight");
  }
  if (auto valid = m_config.validate(); !valid) {
    return valid;
  }
  m_checks.assign(m_config.files.size(), Check{});
  m_loop = &loop;
  m_closed = false;
  m_started_once = false;
  return {};
}

Result<void> FileCheckSampler::sample(SampleSink& sink, std::int64_t now_ms) {
  if (m_loop == nullptr || m_closed) {
    return fail(ErrorCode::internal, "file sampler: sample() called before a successful open()");
  }
  if (m_checks.empty() || (m_started_once && now_ms - m_last_start_ms < m_config.interval_ms)) {
    return {};
  }
  if (m_in_flight) {
    ++m_rounds_skipped;
    return {};
  }
  m_started_once = true;
  m_last_start_ms = now_ms;
  m_sink = &sink;
  m_round_ms = now_ms;
  if (const int rc = uv_queue_work(m_loop, &m_work, &work, &after_work); rc != 0) {
    return fail(ErrorCode::io, std::string("file sampler: queueing a round: ") + uv_strerror(rc));
  }
  m_in_flight = true;
  return {};
}

void FileCheckSampler::work(uv_work_t* request) noexcept {
  // Threadpool thread: reads the (constant) config and writes only the result fields.
  auto* self = static_cast<FileCheckSampler*>(request->data);
  for (std::size_t i = 0; i < self->m_checks.size(); ++i) {
    Check& check = self->m_checks[i];
    struct stat st {};
    if (::stat(self->m_config.files[i].path.c_str(), &st) != 0) {
      check.error_number = errno;
      continue;
    }
    check.error_number = 0;
    check.size = static_cast<std::int64_t>(st.st_size);
    check.mtime_ms = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 +
                     static_cast<std::int64_t>(st.st_mtim.tv_nsec) / 1'000'000;
  }
}

void FileCheckSampler::after_work(uv_work_t* request, int status) noexcept {
  auto* self = static_cast<FileCheckSampler*>(request->data);
  self->m_in_flight = false;
  if (status != 0 || self->m_closed) {
    return;
  }
  for (std::size_t i = 0; i < self->m_checks.size(); ++i) {
    self->report(self->m_config.files[i], self->m_checks[i]);
  }
}

void FileCheckSampler::report(const FileCheckConfig& file, Check& check) noexcept {
  const protocol::LabelView labels[] = {{"file", file.name}, {"path", label_value(file.path)}};
  if (check.error_number == ENOENT || check.error_number == ENOTDIR) {
    m_sink->add("file.exists", 0, m_round_ms, labels);
    check.has_previous = false;
    return;
  }
  if (check.error_number != 0) {
    try {
      m_sink->error("file",
                    Error(ErrorCode::io, errno_text("stat " + file.path, check.error_number)));
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory building the message
    }
    check.has_previous = false;
    return;
  }
  m_sink->add("file.exists", 1, m_round_ms, labels);
  m_sink->add("file.age_s", static_cast<double>(m_round_ms - check.mtime_ms) / 1000.0, m_round_ms,
              labels);
  m_sink->add("file.size_bytes", static_cast<double>(check.size), m_round_ms, labels);
  const std::int64_t elapsed_ms = m_round_ms - check.previous_ms;
  if (check.has_previous && elapsed_ms > 0) {
    m_sink->add("file.growth_bytes_per_s",
                static_cast<double>(check.size - check.previous_size) * 1000.0 /
                    static_cast<double>(elapsed_ms),
                m_round_ms, labels);
  }
  check.previous_size = check.size;
  check.previous_ms = m_round_ms;
  check.has_previous = true;
}

void FileCheckSampler::close() noexcept {
  m_closed = true;
  if (m_in_flight) {
    (void)uv_cancel(reinterpret_cast<uv_req_t*>(&m_work));
  }
}

} // namespace medic::agent::sample
