// SPDX-License-Identifier: Apache-2.0
// Cursors in and out, what the callbacks receive, and the tick: polling, idle flushes, globs.
#include "agent/tail/tailer_core.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace medic::agent::tail {

namespace {

constexpr std::size_t k_restore_factor = 4;

} // namespace

Result<void> TailerCore::restore(std::span<const TailCursor> cursors) {
  if (m_started) {
    return fail(ErrorCode::internal, "tail: restore() after start()");
  }
  m_known.clear();
  const std::size_t limit = k_restore_factor * m_options.max_files;
  for (const TailCursor& cursor : cursors) {
    if (m_known.size() >= limit) {
      warn("tail: " + std::to_string(cursors.size() - limit) +
           " saved cursors beyond 4 x max_files ignored");
      break;
    }
    m_known.push_back(KnownCursor{cursor, true});
  }
  return {};
}

std::vector<TailCursor> TailerCore::cursors() const {
  if (m_stopping) {
    return m_final_cursors;
  }
  std::vector<TailCursor> out;
  for (const auto& file : m_files) {
    if (file->resume && file->phase != Phase::following) {
      out.push_back(file->resume->cursor);
      continue;
    }
    if (file->phase != Phase::following || file->fd < 0) {
      continue;
    }
    const std::uint64_t committed = file->reader->committed();
    const std::size_t hashed = std::min<std::uint64_t>({k_head_bytes, committed, file->head_size});
    out.push_back(
        TailCursor{file->path, file->device, file->inode, committed, file->hashed_head(hashed)});
  }
  for (const KnownCursor& known : m_known) {
    if (known.restored) {
      out.push_back(known.cursor);
    }
  }
  return out;
}

void TailerCore::hand_out(TailedFile& file, std::string_view text, std::uint64_t offset,
                          std::uint64_t end_offset, bool truncated) {
  if (m_stopping || !m_callbacks.on_record) {
    return;
  }
  const TailRecord record{
      m_sources[file.source].source->name, file.path, text, offset, end_offset, truncated};
  m_callbacks.on_record(record);
}

void TailerCore::gap(std::size_t source, std::string_view path, std::uint64_t offset,
                     std::uint64_t bytes, GapReason reason) {
  ++m_stats.gaps;
  m_stats.gap_bytes += bytes;
  if (m_stopping || !m_callbacks.on_gap) {
    return;
  }
  m_callbacks.on_gap(TailGap{m_sources[source].source->name, path, offset, bytes, reason});
}

void TailerCore::resolve_restored(const std::vector<GlobHit>& hits) {
  // A restored cursor whose inode no glob found: its file was rotated away or deleted while
  // the agent was stopped, and whatever followed the cursor in it is lost (how much is unknown).
  std::vector<KnownCursor> lost;
  std::erase_if(m_known, [&](const KnownCursor& known) {
    if (!known.restored) {
      return false;
    }
    const bool found = std::any_of(hits.begin(), hits.end(), [&](const GlobHit& hit) {
      return hit.device == known.cursor.device && hit.inode == known.cursor.inode;
    });
    if (!found) {
      lost.push_back(known);
    }
    return !found;
  });
  for (const KnownCursor& known : lost) {
    const auto source = source_of(known.cursor.path);
    if (!source) {
      continue; // no source tails this path any more
    }
    const bool replaced = std::any_of(hits.begin(), hits.end(), [&](const GlobHit& hit) {
      return hit.path == known.cursor.path;
    });
    gap(*source, known.cursor.path, known.cursor.offset, 0,
        replaced ? GapReason::rotated_away : GapReason::deleted);
  }
}

std::optional<KnownCursor> TailerCore::take_known(std::uint64_t device, std::uint64_t inode) {
  const auto found = std::find_if(m_known.begin(), m_known.end(), [&](const KnownCursor& k) {
    return k.cursor.device == device && k.cursor.inode == inode;
  });
  if (found == m_known.end()) {
    return std::nullopt;
  }
  KnownCursor known = *found;
  m_known.erase(found);
  return known;
}

void TailerCore::tick() noexcept {
  if (m_stopping) {
    return;
  }
  // Changes waiting for the coalescing timer, half an interval old or more, are served now: with
  // the tick's wake-up instead of one of their own, and the passes after them keep in step with
  // the tick (the next one is due an interval from now, at a tick again when the interval is the
  // tick's period).
  if (coalesce_armed() && now_ms() - m_last_read_ms >= m_options.read_interval.count() / 2) {
    coalesce_due();
  }
  // read_interval spaces out passes that serve changes; the tick's own pass must not make the
  // next change wait for the rest of an interval (one more wake-up, for nothing).
  const std::int64_t last_read_ms = m_last_read_ms;
  try {
    const std::int64_t now = now_ms();
    if (now - m_last_poll_ms >= m_options.poll_interval.count()) {
      m_last_poll_ms = now;
      poll_all();
    }
    for (std::size_t i = 0; i < m_files.size() && !m_stopping; ++i) {
      TailedFile& file = *m_files[i];
      if (file.phase == Phase::following) {
        file.reader->flush_if_idle(now, m_options.idle_flush.count());
      }
    }
    const bool glob_due = now - m_last_glob_ms >= m_options.glob_interval.count();
    if (!m_stopping && m_glob_job == nullptr && (glob_due || m_glob_requested)) {
      start_glob();
    }
  } catch (const std::exception& e) {
    warn(std::string("tail: on a tick: ") + e.what());
  }
  reap();
  pump(true);
  m_last_read_ms = last_read_ms;
}

void TailerCore::poll_all() {
  const std::int64_t now = now_ms();
  const bool stat_due = now - m_last_stat_ms >= m_options.stat_interval.count();
  if (stat_due) {
    m_last_stat_ms = now;
  }
  // Each glob stats the paths it matches, and glob_done compares what it found with the files
  // followed (check_paths): when it runs at least as often as the stat rounds (both every 10 s
  // by default), the rounds need not stat the paths again, which takes a threadpool pass (a
  // stat by path can block). They still fstat every file.
  const bool globs_check_paths = m_options.glob_interval <= m_options.stat_interval;
  for (std::size_t i = 0; i < m_files.size() && !m_stopping; ++i) {
    TailedFile& file = *m_files[i];
    if (file.phase != Phase::following || file.want_close) {
      continue;
    }
    const bool waited = now - file.last_growth_ms >= m_options.rotate_wait.count();
    if (file.rotated && !file.draining && (file.expired || waited)) {
      if (!file.in_flight) {
        finish_and_close(file); // no more late writers expected
      } else {
        file.expired = true;
      }
      continue;
    }
    const bool watched = file.slot != nullptr && file.slot->watch != nullptr;
    // Read to its end at this very loop time (by the pass this tick served first): an fstat
    // now would only say so again. The poll at each stat_interval fstats it whatever.
    const bool read_to_end = watched && !stat_due && !file.rotated && file.at_end_ms == now;
    if (read_to_end && !file.want_fstat && !file.want_stat && !file.want_read) {
      continue;
    }
    file.want_fstat = file.want_fstat || !read_to_end;
    file.want_stat =
        !file.rotated && (file.want_stat || (stat_due && !globs_check_paths) || !watched);
    // Without inotify on its directory (poll_only mode), this read is how appended bytes are
    // found. With it, writes were reported and read; the fstat is the safety net (a network
    // file system's inotify misses other hosts' writes): a size above what was read makes the
    // read follow in the next pass, and a file that did not grow costs no read.
    file.want_read = file.want_read || !watched;
    serve(file);
  }
  for (std::size_t i = 0; i < m_slots.size() && !m_stopping; ++i) {
    open_slot(*m_slots[i]); // paths that are gone or were aliases: try again
  }
}

std::int64_t TailerCore::now_ms() const noexcept {
  return static_cast<std::int64_t>(uv_now(&m_loop));
}

void TailerCore::warn(const std::string& message) {
  std::uint64_t suppressed = 0;
  if (!m_log_limit.allow(now_ms(), suppressed)) {
    return;
  }
  if (suppressed > 0) {
    spdlog::warn("{} ({} similar lines suppressed)", message, suppressed);
  } else {
    spdlog::warn("{}", message);
  }
}

} // namespace medic::agent::tail
