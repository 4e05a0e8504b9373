// SPDX-License-Identifier: Apache-2.0
// Files leaving their path (renamed, deleted) and the files that replace them. The order the
// tailer keeps: a file renamed or deleted away is read to its end before its successor at the
// path is read at all, and read to its end again after the successor has been opened, so lines
// written to the old file before the new one existed come first.
#include "agent/tail/tailer_core.hpp"

#include <algorithm>

namespace medic::agent::tail {

void TailerCore::detach(TailedFile& file) {
  ++m_stats.rotations;
  PathSlot& slot = *file.slot;
  slot.current = nullptr;
  if (slot.predecessor != nullptr && slot.predecessor != &file) {
    // Rotated twice within rotate_wait: the older one stops waiting for late writers.
    slot.predecessor->slot = nullptr;
    slot.predecessor->expired = true;
  }
  slot.predecessor = &file;
  file.rotated = true;
  file.draining = true;
  file.fresh_eof_after = file.reads_issued;
  file.last_growth_ms = now_ms();
  file.want_stat = false;
  open_slot(slot); // the new file, if there is one yet; it waits for this one
}

void TailerCore::drained(TailedFile& file) {
  file.draining = false;
  if (file.deleted || file.expired || m_options.rotate_wait.count() == 0) {
    finish_and_close(file);
    return;
  }
  // Renamed: stays open for rotate_wait in case its writer has not reopened yet.
  if (file.slot != nullptr) {
    unblock_successor(*file.slot);
  }
}

void TailerCore::finish_and_close(TailedFile& file) {
  file.reader->finish(); // the partial last line, then any pending record
  if (file.rotated && !file.deleted) {
    remember_closed(file);
  }
  unlink(file);
  file.want_close = true;
  wake(file);
}

void TailerCore::unlink(TailedFile& file) {
  PathSlot* slot = file.slot;
  if (slot == nullptr) {
    return;
  }
  file.slot = nullptr;
  if (slot->current == &file) {
    slot->current = nullptr;
  }
  if (slot->predecessor == &file) {
    slot->predecessor = nullptr;
    unblock_successor(*slot);
  }
}

void TailerCore::unblock_successor(PathSlot& slot) {
  TailedFile* successor = slot.current;
  if (successor != nullptr && successor->blocked) {
    successor->blocked = false;
    wake(*successor);
  }
}

void TailerCore::block_behind_predecessor(TailedFile& file) {
  TailedFile* predecessor = file.slot != nullptr ? file.slot->predecessor : nullptr;
  if (predecessor == nullptr || predecessor->want_close || predecessor->phase != Phase::following) {
    return;
  }
  file.blocked = true;
  // A read already out may have hit the end before the new file existed: only a read issued
  // from now on may end this drain pass.
  predecessor->draining = true;
  predecessor->fresh_eof_after = predecessor->reads_issued;
  wake(*predecessor);
}

bool TailerCore::take_duplicate(TailedFile& file) {
  const auto same = std::find_if(m_files.begin(), m_files.end(), [&](const auto& other) {
    return other.get() != &file && other->fd >= 0 && other->phase == Phase::following &&
           !other->want_close && other->device == file.device && other->inode == file.inode;
  });
  if (same == m_files.end()) {
    return false;
  }
  TailedFile& other = **same;
  PathSlot& slot = *file.slot;
  unlink(file);
  file.want_close = true;
  if (!other.rotated || other.deleted) {
    slot.alias = true; // the same file under two tailed paths: read it once
    return true;
  }
  // A rotated file showed up at a tailed path (a glob also matches rotated names, or the file
  // was renamed back): follow it there instead of reading it again from the start.
  unlink(other);
  other.slot = &slot;
  slot.current = &other;
  other.path = slot.path;
  other.rotated = false;
  other.expired = false;
  other.draining = false;
  return true;
}

void TailerCore::remember_closed(const TailedFile& file) {
  const std::uint64_t committed = file.reader->committed();
  const std::size_t hashed = std::min<std::uint64_t>({k_head_bytes, committed, file.head_size});
  const auto forgotten = std::count_if(m_known.begin(), m_known.end(),
                                       [](const KnownCursor& k) { return !k.restored; });
  if (static_cast<std::size_t>(forgotten) >= m_options.max_files) {
    const auto oldest = std::find_if(m_known.begin(), m_known.end(),
                                     [](const KnownCursor& k) { return !k.restored; });
    m_known.erase(oldest);
  }
  m_known.push_back(KnownCursor{
      TailCursor{file.path, file.device, file.inode, committed, file.hashed_head(hashed)}, false});
}

} // namespace medic::agent::tail
