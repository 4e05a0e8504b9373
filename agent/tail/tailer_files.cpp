// SPDX-License-Identifier: Apache-2.0
// What each completed request means for a tailed file: opening and identifying it, choosing
// where to start, following it, and the rotation, deletion and truncation cases.
#include "agent/tail/tailer_core.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

namespace medic::agent::tail {

namespace {

std::string uv_error_text(ssize_t result) {
  return uv_strerror(static_cast<int>(result));
}

} // namespace

void TailerCore::opened(TailedFile& file, ssize_t result) {
  if (result >= 0) {
    file.phase = Phase::identifying;
    return;
  }
  // A path that is gone is normal (rotation in progress); anything else is worth a line.
  if (result != UV_ENOENT && result != UV_ENOTDIR) {
    ++m_stats.open_errors;
    warn("tail: cannot open " + file.path + ": " + uv_error_text(result));
  }
  if (file.slot != nullptr) {
    file.slot->initial = false; // whatever shows up there later is new
  }
  unlink(file);
  file.phase = Phase::closed;
}

void TailerCore::identified(TailedFile& file, ssize_t result, const uv_stat_t& info) {
  if (result < 0 || !S_ISREG(info.st_mode)) {
    warn("tail: " + file.path +
         (result < 0 ? ": fstat failed: " + uv_error_text(result) : ": not a regular file"));
    unlink(file);
    file.want_close = true;
    return;
  }
  file.regular = true;
  file.device = info.st_dev;
  file.inode = info.st_ino;
  file.nlink = info.st_nlink;
  file.observed_size = info.st_size;
  file.last_growth_ms = now_ms();
  if (take_duplicate(file)) {
    return;
  }
  const CompiledSource& source = m_sources[file.source];
  file.reader.emplace(RecordRules{source.continuation.get(), source.source->max_record_bytes},
                      std::span<char>(m_scratch.get(), source.source->max_record_bytes), m_stats,
                      file);
  PathSlot& slot = *file.slot;
  file.resume = take_known(file.device, file.inode);
  file.start_at_end = !file.resume && slot.initial && !source.has_history &&
                      source.source->start_at == StartAt::end && file.observed_size > 0;
  slot.initial = false;
  if (file.resume || file.start_at_end) {
    file.phase = Phase::probing_head; // the head is needed for the cursor's hash
  } else {
    begin_following(file, 0, FirstLine::whole);
  }
  block_behind_predecessor(file);
}

void TailerCore::head_probed(TailedFile& file, ssize_t result) {
  file.head_size = result > 0 ? static_cast<std::size_t>(result) : 0;
  file.head_changed();
  if (!file.resume) {
    file.phase = Phase::probing_tail;
    return;
  }
  const KnownCursor known = *file.resume;
  file.resume.reset();
  const TailCursor& cursor = known.cursor;
  const std::uint64_t hashed = std::min<std::uint64_t>(k_head_bytes, cursor.offset);
  const bool same = file.observed_size >= cursor.offset && file.head_size >= hashed &&
                    head_hash(std::string_view(file.head.data(), hashed)) == cursor.head_hash;
  if (same) {
    begin_following(file, cursor.offset, FirstLine::whole);
    return;
  }
  // Shorter than the cursor, or other contents under the same inode: whatever followed the
  // cursor in the old contents is lost, how much is unknown.
  if (known.restored) {
    gap(file.source, cursor.path, cursor.offset, 0,
        cursor.path == file.path ? GapReason::truncated : GapReason::rotated_away);
  }
  begin_following(file, 0, FirstLine::whole);
}

void TailerCore::tail_probed(TailedFile& file, const char* window, ssize_t result) {
  const std::size_t size = result > 0 ? static_cast<std::size_t>(result) : 0;
  const void* newline = size > 0 ? ::memrchr(window, '\n', size) : nullptr;
  if (newline != nullptr) {
    const auto after = static_cast<std::size_t>(static_cast<const char*>(newline) - window) + 1;
    begin_following(file, file.probe_offset + after, FirstLine::whole);
    file.last_byte = '\n';
    file.have_last_byte = true;
  } else if (file.probe_offset == 0) {
    begin_following(file, 0, FirstLine::whole); // the whole file is one unfinished line
  } else {
    // A line longer than the window is being written: start after its end.
    begin_following(file, file.probe_offset + size, FirstLine::skip);
  }
}

void TailerCore::begin_following(TailedFile& file, std::uint64_t offset, FirstLine first_line) {
  file.phase = Phase::following;
  file.reader->reset(offset, first_line);
  file.have_last_byte = false;
  file.observed_size = std::max(file.observed_size, offset);
}

void TailerCore::read_done(TailedFile& file, const PassOp& op, const char* data) {
  if (op.result < 0) {
    read_failed(file, op.result);
    return;
  }
  auto size = static_cast<std::size_t>(op.result);
  // A full read leaves more to read at once; a short one reached the end for now (unless a
  // change was reported since the read was issued).
  file.want_read = size == op.capacity || file.poked;
  file.at_end_ms = file.want_read ? -1 : now_ms();
  const std::uint64_t position = file.reader->position();
  if (op.overlap) {
    // The byte before the offset changed or is gone: the file was truncated (and maybe
    // written again) since the last read.
    if (size == 0 || data[0] != file.last_byte) {
      truncated(file, std::nullopt);
      return;
    }
    ++data;
    --size;
  }
  if (size == 0) {
    if (position < file.observed_size) {
      file.observed_size = position;
      file.want_fstat = true; // shrank below what fstat said: find out
    }
    if (file.draining && file.read_seq > file.fresh_eof_after) {
      drained(file);
    }
    return;
  }
  file.last_byte = data[size - 1];
  file.have_last_byte = true;
  file.last_growth_ms = now_ms();
  file.observed_size = std::max<std::uint64_t>(file.observed_size, position + size);
  m_stats.bytes += size;
  consume(file, std::string_view(data, size));
}

void TailerCore::consume(TailedFile& file, std::string_view bytes) {
  const std::uint64_t position = file.reader->position();
  if (position < k_head_bytes && position <= file.head_size) {
    const std::size_t count = std::min<std::size_t>(bytes.size(), k_head_bytes - position);
    std::memcpy(file.head.data() + position, bytes.data(), count);
    file.head_changed();
    file.head_size = std::max<std::size_t>(file.head_size, position + count);
  }
  if (m_callbacks.on_chunk) {
    m_callbacks.on_chunk(bytes);
  }
  file.reader->feed(bytes, file.last_growth_ms);
  if (m_callbacks.on_chunk && !m_stopping) {
    m_callbacks.on_chunk({});
  }
}

void TailerCore::read_failed(TailedFile& file, ssize_t result) {
  ++m_stats.read_errors;
  warn("tail: reading " + file.path + " failed: " + uv_error_text(result));
  const std::uint64_t lost_from = file.reader->consumed();
  const std::uint64_t end = std::max(file.observed_size, file.reader->position());
  if (end > lost_from) {
    gap(file.source, file.path, lost_from, end - lost_from, GapReason::unreadable);
    file.reader->reset(end, FirstLine::skip);
    file.observed_size = end;
  }
  file.have_last_byte = false;
  if (file.draining) {
    drained(file); // do not retry a failing read forever
  }
}

void TailerCore::fstat_done(TailedFile& file, ssize_t result, const uv_stat_t& info) {
  if (result < 0) {
    ++m_stats.read_errors;
    warn("tail: fstat " + file.path + " failed: " + uv_error_text(result));
    return;
  }
  ++m_stats.fstats;
  file.nlink = info.st_nlink;
  if (info.st_size < file.reader->position()) {
    truncated(file, info.st_size);
  } else if (info.st_size > file.observed_size) {
    file.observed_size = info.st_size;
  }
  if (file.nlink == 0 && !file.deleted) {
    file.deleted = true;
    if (file.rotated) {
      file.draining = true;
    } else {
      detach(file);
    }
  }
}

void TailerCore::stat_done(TailedFile& file, ssize_t result, const uv_stat_t& info) {
  if (file.slot == nullptr || file.slot->current != &file || file.rotated) {
    return;
  }
  if (result == UV_ENOENT || result == UV_ENOTDIR) {
    detach(file); // renamed or deleted, nothing at the path yet
  } else if (result >= 0 && (info.st_dev != file.device || info.st_ino != file.inode)) {
    detach(file); // another file is at the path now
  }
}

void TailerCore::closed(TailedFile& file) {
  unlink(file);
  file.phase = Phase::closed;
}

void TailerCore::truncated(TailedFile& file, std::optional<std::uint64_t> new_size) {
  ++m_stats.truncations;
  file.reader->flush_pending(); // complete lines: nothing can continue them any more
  const std::uint64_t lost_from = file.reader->consumed();
  const std::uint64_t end = std::max(file.observed_size, file.reader->position());
  if (end > lost_from) {
    gap(file.source, file.path, lost_from, end - lost_from, GapReason::truncated);
  }
  file.reader->reset(0, FirstLine::whole);
  file.head_size = 0;
  file.head_changed();
  file.have_last_byte = false;
  file.observed_size = new_size.value_or(0);
  file.want_fstat = file.want_fstat || !new_size;
}

} // namespace medic::agent::tail
