// SPDX-License-Identifier: Apache-2.0
// Globs (on the threadpool), the path slots they yield, and the inotify watches on their
// directories.
#include "agent/tail/tailer_core.hpp"

#include <algorithm>
#include <filesystem>

namespace medic::agent::tail {

namespace {

constexpr std::size_t k_glob_hits_per_file = 4;

void glob_work(uv_work_t* req) {
  auto* job = static_cast<GlobJob*>(req->data);
  job->scan = scan_globs(job->patterns, job->limit);
}

void glob_after(uv_work_t* req, int /*status*/) {
  auto* job = static_cast<GlobJob*>(req->data);
  if (job->core != nullptr) {
    job->core->glob_done(std::move(job->scan.hits), job->scan.excess);
  }
  delete job;
}

} // namespace

void TailerCore::start_glob() {
  auto job = std::make_unique<GlobJob>();
  job->core = this;
  job->req.data = job.get();
  job->limit = k_glob_hits_per_file * m_options.max_files;
  for (std::size_t i = 0; i < m_sources.size(); ++i) {
    for (const std::string& glob : m_sources[i].source->globs) {
      job->patterns.push_back(GlobPattern{glob, i});
    }
  }
  m_glob_requested = false;
  m_last_glob_ms = now_ms();
  const int rc = uv_queue_work(&m_loop, &job->req, glob_work, glob_after);
  if (rc < 0) {
    warn(std::string("tail: cannot queue a glob: ") + uv_strerror(rc));
    check_paths({}); // stat the paths this glob was to check
    pump(true);
    return;
  }
  m_glob_job = job.release();
}

void TailerCore::check_paths(const std::vector<GlobHit>& hits) {
  // What a stat by path tells (stat_done): the same file there, or another, or none. Only the
  // last two need the stat, which detaches the file; so does a path the glob left out (not a
  // regular file any more, or past the limit).
  for (std::size_t i = 0; i < m_files.size() && !m_stopping; ++i) {
    TailedFile& file = *m_files[i];
    if (file.phase != Phase::following || file.want_close || file.rotated || file.slot == nullptr ||
        file.slot->current != &file) {
      continue;
    }
    const auto hit = std::find_if(hits.begin(), hits.end(),
                                  [&](const GlobHit& h) { return h.path == file.slot->path; });
    if (hit != hits.end() && hit->device == file.device && hit->inode == file.inode) {
      continue;
    }
    file.want_stat = true;
    serve(file);
  }
}

void TailerCore::glob_done(std::vector<GlobHit> hits, std::size_t excess) noexcept {
  m_glob_job = nullptr;
  if (m_stopping) {
    return;
  }
  try {
    const bool first = !m_first_glob_done;
    m_first_glob_done = true;
    for (auto& slot : m_slots) {
      slot->seen = false;
      slot->alias = false; // try aliased paths again once per glob
    }
    std::size_t skipped = excess;
    for (const GlobHit& hit : hits) {
      const auto known = std::find_if(m_slots.begin(), m_slots.end(),
                                      [&](const auto& slot) { return slot->path == hit.path; });
      if (known != m_slots.end()) {
        (*known)->seen = true;
      } else if (m_slots.size() < m_options.max_files) {
        add_slot(hit, first);
      } else {
        ++skipped;
      }
    }
    sweep_slots();
    report_skipped(skipped);
    if (first) {
      resolve_restored(hits);
    }
    check_paths(hits);
  } catch (const std::exception& e) {
    warn(std::string("tail: after a glob: ") + e.what());
  }
  reap();
  pump(true);
}

void TailerCore::add_slot(const GlobHit& hit, bool initial) {
  auto slot = std::make_unique<PathSlot>();
  const std::filesystem::path path(hit.path);
  slot->path = hit.path;
  slot->name = path.filename().string();
  slot->source = hit.source;
  slot->initial = initial;
  if (m_options.change_watch == ChangeWatch::inotify_and_poll) {
    slot->watch = watch_dir(path.parent_path().string());
  }
  m_slots.push_back(std::move(slot));
  open_slot(*m_slots.back());
}

void TailerCore::sweep_slots() {
  std::erase_if(m_slots, [&](const std::unique_ptr<PathSlot>& slot) {
    const bool gone = !slot->seen && slot->current == nullptr && slot->predecessor == nullptr;
    if (gone) {
      unwatch(slot->watch);
    }
    return gone;
  });
}

void TailerCore::open_slot(PathSlot& slot) {
  if (m_stopping || slot.current != nullptr || slot.alias ||
      m_files.size() >= 2 * m_options.max_files) {
    return;
  }
  m_files.push_back(std::make_unique<TailedFile>(*this, slot));
  slot.current = m_files.back().get();
  wake(*slot.current);
}

void TailerCore::report_skipped(std::size_t skipped) {
  m_stats.files_skipped = skipped;
  if (skipped > 0 && skipped != m_reported_skipped) {
    warn("tail: " + std::to_string(skipped) + " more files match the globs than max_files=" +
         std::to_string(m_options.max_files) + " allows; they are not tailed");
  }
  m_reported_skipped = skipped;
}

void TailerCore::start_inotify() {
  if (m_options.change_watch != ChangeWatch::inotify_and_poll) {
    return;
  }
  InotifyHandlers handlers;
  handlers.on_event = [this](const InotifyEvent& event) { inotify_event(event); };
  handlers.on_overflow = [this] { inotify_overflow(); };
  auto watch = InotifyWatch::open(m_loop, std::move(handlers));
  if (!watch) {
    warn("tail: " + watch.error().message() + "; polling only");
    return;
  }
  m_inotify = std::move(*watch);
}

DirWatch* TailerCore::watch_dir(const std::string& dir) {
  if (!m_inotify) {
    return nullptr;
  }
  for (const auto& watch : m_watches) {
    if (watch->dir == dir) {
      ++watch->users;
      return watch.get();
    }
  }
  const int wd = m_inotify->add(dir);
  if (wd < 0) {
    // inotify limits reached, or an odd file system: the poll timer still sees everything.
    warn("tail: cannot watch " + dir + " (" + uv_strerror(wd) + "); polling it only");
    return nullptr;
  }
  m_watches.push_back(std::make_unique<DirWatch>(DirWatch{wd, dir, 1}));
  return m_watches.back().get();
}

void TailerCore::unwatch(DirWatch* watch) noexcept {
  if (watch == nullptr || --watch->users > 0) {
    return;
  }
  const int wd = watch->wd;
  std::erase_if(m_watches, [&](const auto& w) { return w.get() == watch; });
  // Two names for one directory (a symlink) share the kernel's watch.
  const bool shared =
      std::any_of(m_watches.begin(), m_watches.end(), [&](const auto& w) { return w->wd == wd; });
  if (m_inotify && !shared) {
    m_inotify->remove(wd);
  }
}

void TailerCore::inotify_event(const InotifyEvent& event) noexcept {
  if (m_stopping) {
    return;
  }
  // After a quiet spell the change is read at once (a burst of writes often comes in the one
  // read of events). A wake-up within read_interval of the last pass waits for the timer: the
  // directory is busy (the rest of a burst of writes to several files, or a steady writer), so
  // stop listening until then and read whatever came meanwhile in one go: one wake-up for the
  // rest of the window, not one per write. Once bursts have come in more than one read, the
  // next ones wait a few milliseconds (settle) and are read in one go: two wake-ups a burst, not
  // three (see coalesce_due for when that stops).
  // A creation, deletion or rename is served in the next loop turn, interval or not: the path
  // may hold a new file that can be renamed away again before the interval ends.
  ++m_inotify_events;
  arm_coalesce();
  if (m_coalesce_delay_ms > 0 && !event.moved && !m_inotify->paused()) {
    m_inotify->pause();
    ++m_stats.inotify_pauses;
    m_settle_bursts = true;
  }
  for (std::size_t i = 0; i < m_watches.size() && !m_stopping; ++i) {
    if (m_watches[i]->wd == event.wd) {
      dir_event(*m_watches[i], event.name, event.moved ? UV_RENAME : UV_CHANGE);
    }
  }
  if (event.moved) {
    serve_soon();
  }
}

void TailerCore::inotify_overflow() noexcept {
  warn("tail: inotify queue overflowed; looking at every file");
  m_glob_requested = true;
  for (std::size_t i = 0; i < m_files.size() && !m_stopping; ++i) {
    TailedFile& file = *m_files[i];
    if (file.phase == Phase::following && !file.want_close) {
      file.want_fstat = true;
      file.want_stat = !file.rotated;
      file.want_read = true;
      poke(file);
    }
  }
}

void TailerCore::dir_event(DirWatch& watch, const char* name, int events) noexcept {
  if (m_stopping) {
    return;
  }
  try {
    bool matched = false;
    const std::string_view name_view =
        name != nullptr ? std::string_view(name) : std::string_view{};
    for (std::size_t i = 0; i < m_slots.size() && !m_stopping; ++i) {
      PathSlot& slot = *m_slots[i];
      if (slot.watch != &watch || (name != nullptr && slot.name != name_view)) {
        continue;
      }
      matched = true;
      if (slot.current == nullptr) {
        open_slot(slot); // created (again)
        continue;
      }
      // A write only needs a read; a rename, create or delete may have moved the path.
      TailedFile& file = *slot.current;
      const bool moved = name == nullptr || (events & UV_RENAME) != 0;
      file.want_read = true;
      file.want_fstat = file.want_fstat || moved;
      file.want_stat = file.want_stat || moved;
      poke(file);
    }
    if (!matched && name != nullptr && (events & UV_RENAME) != 0) {
      wake_rotated(); // maybe one of them was deleted: do not keep it open until the poll
      if (source_of(watch.dir + "/" + name)) {
        m_glob_requested = true; // a new matching file: the next tick globs
      }
    }
  } catch (const std::exception& e) {
    warn(std::string("tail: on an inotify event: ") + e.what());
  }
  reap(); // the coalescing timer serves the files poked
}

void TailerCore::wake_rotated() {
  for (std::size_t i = 0; i < m_files.size() && !m_stopping; ++i) {
    TailedFile& file = *m_files[i];
    if (file.rotated && file.phase == Phase::following && !file.want_close) {
      file.want_fstat = true;
      poke(file);
    }
  }
}

std::optional<std::size_t> TailerCore::source_of(std::string_view path) const {
  for (std::size_t i = 0; i < m_sources.size(); ++i) {
    for (const std::string& glob : m_sources[i].source->globs) {
      if (glob_matches(glob, path)) {
        return i;
      }
    }
  }
  return std::nullopt;
}

} // namespace medic::agent::tail
