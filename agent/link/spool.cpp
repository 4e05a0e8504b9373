// SPDX-License-Identifier: Apache-2.0
#include "agent/link/spool.hpp"
#include "agent/link/spool_sql.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <span>
#include <utility>

namespace medic::agent::link {

using namespace spool_sql;

namespace {

// Runs a one-row query. A query that yields no row is the file's fault, not ours.
Result<sqlite::Statement> query_row(sqlite::Database& db, std::string_view sql) {
  auto statement = db.prepare(sql);
  if (!statement) {
    return fail(std::move(statement).error());
  }
  auto row = statement->step();
  if (!row) {
    return fail(std::move(row).error());
  }
  if (!*row) {
    return fail(ErrorCode::storage, "no result from '" + std::string(sql) + "'");
  }
  return statement;
}

// A fresh file has no schema and no application id; anything else must carry our id and pass
// SQLite's structural check, so damage shows at start-up rather than in the middle of a resend.
Result<void> check_is_spool(sqlite::Database& db) {
  auto found = query_row(db,
                         "SELECT (SELECT application_id FROM pragma_application_id),"
                         " (SELECT COUNT(*) FROM sqlite_schema)");
  if (!found) {
    return fail(std::move(found).error());
  }
  const std::int64_t id = found->column_int(0);
  const std::int64_t objects = found->column_int(1);
  if (id != k_application_id) {
    if (id == 0 && objects == 0) {
      return {};
    }
    return fail(ErrorCode::storage, "not a medic spool (a SQLite database with application_id " +
                                        std::to_string(id) + " and " + std::to_string(objects) +
                                        " schema objects)");
  }
  auto check = query_row(db, "PRAGMA quick_check(1)");
  if (!check) {
    return fail(std::move(check).error());
  }
  if (const std::string verdict = check->column_text(0); verdict != "ok") {
    return fail(ErrorCode::storage, "the spool is corrupt: " + verdict);
  }
  return {};
}

} // namespace

Spool::Spool(sqlite::Database db, Statements statements, SpoolLimits limits)
    : m_db(std::move(db)), m_statements(std::move(statements)), m_limits(limits) {}

Spool::Spool(Spool&& other) noexcept = default;
Spool& Spool::operator=(Spool&& other) noexcept = default;
Spool::~Spool() = default;

Result<Spool> Spool::open(const std::filesystem::path& path, SpoolLimits limits,
                          std::uint64_t first_seq) {
  const std::string where = "opening spool " + path.string();
  if (limits.max_bytes == 0 || limits.max_age.count() <= 0) {
    return fail(ErrorCode::invalid_argument, where + ": max_bytes and max_age must be positive");
  }
  auto db = sqlite::Database::open(path, sqlite::OpenMode::read_write_create);
  if (!db) {
    return fail(std::move(db).error()); // already names the path
  }
  if (auto checked = check_is_spool(*db); !checked) {
    return fail(std::move(checked).error().context(where));
  }
  // FULL: a batch and the next seq must survive a power loss once committed, before the batch
  // is sent; under NORMAL the last commits could roll back and a seq the coordinator already
  // stored would be used again (and silently deduplicated away). One fsync per batch is cheap
  // at the agent's batch rate.
  if (auto durable = db->exec("PRAGMA synchronous=FULL"); !durable) {
    return fail(std::move(durable).error().context(where));
  }
  // Debian's SQLite zeroes every freed page (secure_delete on): a memset per page of every acked
  // batch, and when the removal commits without a new batch reusing those pages, one more WAL
  // frame each (41 frames against 26 in the spool test for a 15-page batch). FAST still
  // clears deleted cells inside the pages a commit writes anyway, and leaves freed pages as they
  // are until the next batches reuse them, seconds later. The WAL keeps the old frames of those
  // pages either way until it wraps, so zeroing them bought little; the file sits in the
  // agent's state directory (0750 as packaged), and what it held was sent to the coordinator.
  if (auto fast = db->exec("PRAGMA secure_delete=FAST"); !fast) {
    return fail(std::move(fast).error().context(where));
  }
  // The spool appends at one end and reads and deletes at the other: a small page cache serves
  // that as well as SQLite's default 2 MiB, which a partition would otherwise fill, page by page,
  // in the agent's resident memory. 64 KiB (about 14 pages): the steady state touches fewer (the
  // schema, the two ends of the batch table, the state and cursor rows); what misses is read back
  // from the OS's page cache at a batch per second.
  if (auto cache = db->exec("PRAGMA cache_size=-64"); !cache) {
    return fail(std::move(cache).error().context(where));
  }
  // A commit dirties more pages than that cache holds (a batch's overflow pages, the index, the
  // state and cursor rows: 20-30). By default SQLite then spills dirty pages to the WAL in the
  // middle of the transaction, writes them again when they change, and at the commit reads back
  // every frame after the first one rewritten to redo its checksum: about 90 system calls a
  // commit, 50 without spilling. So spill only past 64 pages (256 KiB): the pages above the cache
  // size are freed again once committed, and a transaction larger than that (a long backlog
  // purged at once) still spills.
  if (auto spill = db->exec("PRAGMA cache_spill=64"); !spill) {
    return fail(std::move(spill).error().context(where));
  }
  if (auto migrated = db->migrate({{1, "spool", k_schema_v1}}); !migrated) {
    return fail(std::move(migrated).error().context(where));
  }
  auto statements = prepare_statements(*db);
  if (!statements) {
    return fail(std::move(statements).error().context(where));
  }
  Spool spool(std::move(*db), std::move(*statements), limits);
  if (auto loaded = spool.load_state(); !loaded) {
    return fail(std::move(loaded).error().context(where));
  }
  const bool never_used =
      spool.m_next_seq == 1 && spool.m_stats.batches == 0 && spool.m_stats.dropped_batches == 0;
  if (never_used && first_seq > 1) {
    if (first_seq > k_max_seq) {
      return fail(ErrorCode::invalid_argument, where + ": first_seq out of range");
    }
    if (auto written = spool.write_next_seq(first_seq); !written) {
      return fail(std::move(written).error().context(where));
    }
    spool.m_next_seq = first_seq;
  }
  return spool;
}

Result<Spool::Statements> Spool::prepare_statements(sqlite::Database& db) {
  auto insert = db.prepare(k_insert_sql);
  auto measure = db.prepare(k_measure_sql);
  auto remove = db.prepare(k_remove_sql);
  auto oldest = db.prepare(k_oldest_sql);
  auto select_after = db.prepare(k_select_after_sql);
  auto measure_older = db.prepare(k_measure_older_sql);
  auto delete_older = db.prepare(k_delete_older_sql);
  auto seq_bounds = db.prepare(k_seq_bounds_sql);
  auto write_next_seq = db.prepare(k_write_next_seq_sql);
  auto write_counter = db.prepare(k_write_counter_sql);
  for (auto* prepared : {&insert, &measure, &remove, &oldest, &select_after, &measure_older,
                         &delete_older, &seq_bounds, &write_next_seq, &write_counter}) {
    if (!*prepared) {
      return fail(std::move(*prepared).error());
    }
  }
  return Statements{std::move(*insert),       std::move(*measure),      std::move(*remove),
                    std::move(*oldest),       std::move(*select_after), std::move(*measure_older),
                    std::move(*delete_older), std::move(*seq_bounds),   std::move(*write_next_seq),
                    std::move(*write_counter)};
}

Result<void> Spool::load_state() {
  auto row = query_row(m_db, k_load_state_sql);
  if (!row) {
    return fail(std::move(row).error());
  }
  for (int column = 0; column < 4; ++column) {
    if (row->column_is_null(column)) {
      return fail(ErrorCode::storage, "the spool is corrupt: its meta table lacks counters");
    }
  }
  const auto column = [&row](int index) {
    return static_cast<std::uint64_t>(row->column_int(index));
  };
  m_next_seq = column(0);
  m_stats = SpoolStats{column(4), column(5), column(6), column(7), column(1), column(2), column(3)};
  // Both are written in one transaction, so this only matters if the file was edited by hand;
  // reusing a number would make the coordinator discard a batch as a duplicate.
  m_next_seq = std::max({m_next_seq, m_stats.last_seq + 1, std::uint64_t{1}});
  return {};
}

// The change works on a copy of the stats inside one transaction and says whether it changed
// anything. The copy replaces the stats only after the commit, so stats() never shows what the
// file does not hold; on any failure, or no change, the transaction rolls back.
template <class Change>
Result<SpoolStats> Spool::transact(std::string_view what, Change change) {
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(located(std::move(tx).error(), what));
  }
  SpoolStats next = m_stats;
  auto changed = change(next);
  if (!changed) {
    return fail(located(std::move(changed).error(), what));
  }
  if (!*changed) {
    return m_stats;
  }
  if (auto committed = tx->commit(); !committed) {
    return fail(located(std::move(committed).error(), what));
  }
  ++m_commits;
  m_stats = next;
  return next;
}

Result<SpoolStats> Spool::append(std::uint64_t seq, SpoolClass kind, std::uint32_t items,
                                 std::int64_t created_ms, std::string_view frame,
                                 const SpoolWrite& also) {
  const std::string what = "appending batch " + std::to_string(seq);
  if (seq < m_next_seq || seq > k_max_seq) {
    return fail(located(Error(ErrorCode::invalid_argument,
                              "sequence number must be between next_seq " +
                                  std::to_string(m_next_seq) + " and " + std::to_string(k_max_seq)),
                        what));
  }
  if (kind != SpoolClass::samples && kind != SpoolClass::events) {
    return fail(located(Error(ErrorCode::invalid_argument, "unknown batch class"), what));
  }
  if (frame.size() > m_limits.max_bytes) {
    return refuse(seq, items, frame.size(), what, also);
  }
  auto stats = transact(what, [&](SpoolStats& next) -> Result<bool> {
    if (auto stored = store(seq, kind, items, created_ms, frame); !stored) {
      return fail(std::move(stored).error());
    }
    if (also) {
      if (auto written = also(m_db); !written) {
        return fail(std::move(written).error());
      }
    }
    next.batches += 1;
    next.bytes += frame.size();
    next.first_seq = next.first_seq == 0 ? seq : next.first_seq;
    next.last_seq = seq;
    if (next.bytes > m_limits.max_bytes) {
      auto dropped = drop_over_limit(seq, kind, next.bytes - m_limits.max_bytes);
      if (!dropped) {
        return fail(std::move(dropped).error());
      }
      if (auto recorded = record_removal(next, *dropped, Removal::dropped); !recorded) {
        return fail(std::move(recorded).error());
      }
    }
    return true; // the insert commits whatever record_removal() says
  });
  if (stats) {
    m_next_seq = seq + 1;
  }
  return stats;
}

Result<void> Spool::store(std::uint64_t seq, SpoolClass kind, std::uint32_t items,
                          std::int64_t created_ms, std::string_view frame) {
  auto& statement = m_statements.insert;
  const sqlite::ResetOnExit reset(statement);
  statement.bind(1, seq)
      .bind(2, static_cast<std::int64_t>(kind))
      .bind(3, items)
      .bind(4, created_ms)
      .bind_blob_view(5, std::as_bytes(std::span<const char>(frame.data(), frame.size())));
  if (auto inserted = statement.run(); !inserted) {
    return fail(std::move(inserted).error());
  }
  return write_next_seq(seq + 1);
}

// The batch is never stored, but its number is used up and the loss is on record before the
// caller hears of it.
Result<SpoolStats> Spool::refuse(std::uint64_t seq, std::uint32_t items, std::size_t size,
                                 std::string_view what, const SpoolWrite& also) {
  auto stats = transact(what, [&](SpoolStats& next) -> Result<bool> {
    next.dropped_batches += 1;
    next.dropped_items += items;
    next.dropped_bytes += size;
    auto written = write_next_seq(seq + 1);
    if (written) {
      written = write_drops(next);
    }
    if (written && also) {
      written = also(m_db);
    }
    return written.map([] { return true; });
  });
  if (!stats) {
    return fail(std::move(stats).error());
  }
  m_next_seq = seq + 1;
  return fail(
      located(Error(ErrorCode::busy, "its frame of " + std::to_string(size) +
                                         " bytes exceeds the spool's limit of " +
                                         std::to_string(m_limits.max_bytes) + " bytes; dropped"),
              what));
}

Result<void> Spool::write_state(const SpoolWrite& write) {
  auto tx = sqlite::Transaction::begin(m_db);
  if (!tx) {
    return fail(located(std::move(tx).error(), "writing agent state"));
  }
  if (auto written = write(m_db); !written) {
    return fail(located(std::move(written).error(), "writing agent state"));
  }
  if (auto committed = tx->commit(); !committed) {
    return fail(located(std::move(committed).error(), "writing agent state"));
  }
  ++m_commits;
  return {};
}

Result<void> Spool::check_group(const SpoolGroup& group) const {
  std::uint64_t next_seq = m_next_seq;
  for (const auto& change : group.changes) {
    if (!change.batch) {
      continue;
    }
    const auto& batch = *change.batch;
    if (batch.seq < next_seq || batch.seq > k_max_seq) {
      return fail(ErrorCode::invalid_argument,
                  "batch " + std::to_string(batch.seq) + ": sequence number must be between " +
                      std::to_string(next_seq) + " and " + std::to_string(k_max_seq));
    }
    if (batch.kind != SpoolClass::samples && batch.kind != SpoolClass::events) {
      return fail(ErrorCode::invalid_argument,
                  "batch " + std::to_string(batch.seq) + ": unknown batch class");
    }
    next_seq = batch.seq + 1;
  }
  return {};
}

Result<Spool::GroupOutcome> Spool::commit(const SpoolGroup& group) {
  constexpr std::string_view what = "committing a group of spool changes";
  if (auto checked = check_group(group); !checked) {
    return fail(located(std::move(checked).error(), what));
  }
  std::uint32_t refused = 0;
  auto stats = transact(what, [&](SpoolStats& next) { return apply(group, next, refused); });
  if (!stats) {
    return fail(std::move(stats).error());
  }
  for (auto it = group.changes.rbegin(); it != group.changes.rend(); ++it) {
    if (it->batch) {
      m_next_seq = it->batch->seq + 1;
      break;
    }
  }
  return GroupOutcome{*stats, refused};
}

// Inside commit()'s transaction: whether anything changed.
Result<bool> Spool::apply(const SpoolGroup& group, SpoolStats& next, std::uint32_t& refused) {
  Removed acked;
  for (const std::uint64_t seq : group.acked) {
    if (seq == 0 || seq > k_max_seq) {
      continue; // never stored
    }
    auto removed = remove_seq(seq);
    if (!removed) {
      return fail(std::move(removed).error());
    }
    acked.batches += removed->batches;
    acked.items += removed->items;
    acked.bytes += removed->bytes;
  }
  auto changed = record_removal(next, acked, Removal::acked);
  if (!changed) {
    return fail(std::move(changed).error());
  }
  for (const auto& change : group.changes) {
    if (change.batch) {
      if (auto applied = apply_batch(*change.batch, next, refused); !applied) {
        return fail(std::move(applied).error());
      }
    }
    if (change.also) {
      if (auto written = change.also(m_db); !written) {
        return fail(std::move(written).error());
      }
    }
  }
  return *changed || !group.changes.empty();
}

Result<bool> Spool::apply_batch(const SpoolAppend& batch, SpoolStats& next,
                                std::uint32_t& refused) {
  if (batch.frame.size() > m_limits.max_bytes) {
    ++refused;
    next.dropped_batches += 1;
    next.dropped_items += batch.items;
    next.dropped_bytes += batch.frame.size();
    auto written = write_next_seq(batch.seq + 1);
    if (written) {
      written = write_drops(next);
    }
    return written.map([] { return true; });
  }
  if (auto stored = store(batch.seq, batch.kind, batch.items, batch.created_ms, batch.frame);
      !stored) {
    return fail(std::move(stored).error());
  }
  next.batches += 1;
  next.bytes += batch.frame.size();
  next.first_seq = next.first_seq == 0 ? batch.seq : next.first_seq;
  next.last_seq = batch.seq;
  if (next.bytes > m_limits.max_bytes) {
    auto dropped = drop_over_limit(batch.seq, batch.kind, next.bytes - m_limits.max_bytes);
    if (!dropped) {
      return fail(std::move(dropped).error());
    }
    if (auto recorded = record_removal(next, *dropped, Removal::dropped); !recorded) {
      return fail(std::move(recorded).error());
    }
  }
  return true;
}

// Oldest sample batches go first. Events (signals, action reports) go only to make room for
// newer events: a new sample batch that finds nothing but events is dropped itself.
Result<Spool::Removed> Spool::drop_over_limit(std::uint64_t keep_seq, SpoolClass incoming,
                                              std::uint64_t bytes) {
  Removed total;
  while (total.bytes < bytes) {
    auto dropped = drop_oldest(SpoolClass::samples, keep_seq);
    if (dropped && dropped->batches == 0) {
      dropped = incoming == SpoolClass::samples ? drop_oldest(SpoolClass::samples, 0)
                                                : drop_oldest(SpoolClass::events, keep_seq);
    }
    if (!dropped) {
      return fail(std::move(dropped).error());
    }
    if (dropped->batches == 0) {
      break; // only keep_seq is left, and append() made sure it fits on its own
    }
    total.batches += dropped->batches;
    total.items += dropped->items;
    total.bytes += dropped->bytes;
  }
  return total;
}

Result<Spool::Removed> Spool::drop_oldest(SpoolClass kind, std::uint64_t keep_seq) {
  std::uint64_t oldest = 0;
  {
    auto& statement = m_statements.oldest;
    const sqlite::ResetOnExit reset(statement); // before the DELETE: no cursor left open on it
    statement.bind(1, static_cast<std::int64_t>(kind)).bind(2, keep_seq);
    auto row = statement.step();
    if (!row) {
      return fail(std::move(row).error());
    }
    if (!*row) {
      return Removed{};
    }
    oldest = static_cast<std::uint64_t>(statement.column_int(0));
  }
  return remove_seq(oldest);
}

Result<Spool::Removed> Spool::remove_seq(std::uint64_t seq) {
  m_statements.measure.bind(1, seq);
  m_statements.remove.bind(1, seq);
  return measure_and_delete(m_statements.measure, m_statements.remove);
}

Result<Spool::Removed> Spool::remove_older(std::int64_t cutoff_ms) {
  m_statements.measure_older.bind(1, cutoff_ms);
  m_statements.delete_older.bind(1, cutoff_ms);
  return measure_and_delete(m_statements.measure_older, m_statements.delete_older);
}

// `measure` (COUNT(*), SUM(items), SUM(length(frame)) under the DELETE's WHERE) and `remove`,
// both bound: what the DELETE takes away, then the DELETE. Inside the caller's transaction.
Result<Spool::Removed> Spool::measure_and_delete(sqlite::Statement& measure,
                                                 sqlite::Statement& remove) {
  const sqlite::ResetOnExit reset_measure(measure);
  const sqlite::ResetOnExit reset_remove(remove);
  auto row = measure.step();
  if (!row) {
    return fail(std::move(row).error());
  }
  if (!*row || measure.column_int(0) == 0) {
    return Removed{};
  }
  const Removed removed{static_cast<std::uint64_t>(measure.column_int(0)),
                        static_cast<std::uint64_t>(measure.column_int(1)),
                        static_cast<std::uint64_t>(measure.column_int(2))};
  if (auto done = remove.step(); !done) {
    return fail(std::move(done).error());
  }
  return removed;
}

// Takes what was deleted off the held counts (and adds it to the drop counters when it was a
// drop, persisting them) and finds the new first and last seq. Inside the caller's transaction.
Result<bool> Spool::record_removal(SpoolStats& next, const Removed& removed, Removal why) {
  if (removed.batches == 0) {
    return false;
  }
  next.batches -= removed.batches;
  next.bytes -= removed.bytes;
  auto done = refresh_bounds(next);
  if (done && why == Removal::dropped) {
    next.dropped_batches += removed.batches;
    next.dropped_items += removed.items;
    next.dropped_bytes += removed.bytes;
    done = write_drops(next);
  }
  return done.map([] { return true; });
}

Result<SpoolStats> Spool::remove(std::uint64_t seq) {
  if (seq == 0 || seq > k_max_seq) {
    return m_stats; // never stored, so an ack for it has nothing to remove
  }
  return delete_with(Removal::acked, "removing acked batch", [&] { return remove_seq(seq); });
}

Result<SpoolStats> Spool::expire(std::int64_t now_ms) {
  const std::int64_t max_age = m_limits.max_age.count();
  if (now_ms < std::numeric_limits<std::int64_t>::min() + max_age) {
    return m_stats; // the cutoff lies before any representable time
  }
  return delete_with(Removal::dropped, "expiring batches",
                     [&] { return remove_older(now_ms - max_age); });
}

// `remove` deletes inside the transaction and says what it removed.
template <class Remove>
Result<SpoolStats> Spool::delete_with(Removal why, std::string_view what, Remove remove) {
  return transact(what, [&](SpoolStats& next) -> Result<bool> {
    auto removed = remove();
    if (!removed) {
      return fail(std::move(removed).error());
    }
    return record_removal(next, *removed, why);
  });
}

Result<std::vector<SpooledBatch>> Spool::read_after(std::uint64_t after_seq,
                                                    std::size_t max_batches,
                                                    std::size_t max_bytes) {
  std::vector<SpooledBatch> batches;
  if (after_seq >= k_max_seq) {
    return batches;
  }
  auto& statement = m_statements.select_after;
  const sqlite::ResetOnExit reset(statement);
  statement.bind(1, after_seq).bind(2, std::clamp<std::uint64_t>(max_batches, 1, k_max_seq));
  std::uint64_t total = 0;
  for (;;) {
    auto row = statement.step();
    if (!row) {
      return fail(located(std::move(row).error(), "reading batches"));
    }
    const auto size = *row ? static_cast<std::uint64_t>(statement.column_int(4)) : 0;
    if (!*row || (!batches.empty() && total + size > max_bytes)) {
      return batches;
    }
    // The CHECK constraint allows only 0 and 1; should a damaged file hold anything else, the
    // batch is treated as the class that is kept longest.
    const auto kind = statement.column_int(1) == 0 ? SpoolClass::samples : SpoolClass::events;
    batches.push_back(SpooledBatch{static_cast<std::uint64_t>(statement.column_int(0)), kind,
                                   static_cast<std::uint32_t>(statement.column_int(2)),
                                   statement.column_int(3), statement.column_blob(5)});
    total += size;
  }
}

// Counters are unsigned 64-bit in a signed column: the casts wrap both ways, so they round-trip.
// load_state() made sure every key exists, so an UPDATE cannot miss.
Result<void> Spool::write_next_seq(std::uint64_t next_seq) {
  auto& statement = m_statements.write_next_seq;
  const sqlite::ResetOnExit reset(statement);
  statement.bind(1, static_cast<std::int64_t>(next_seq));
  return statement.run();
}

Result<void> Spool::write_drops(const SpoolStats& stats) {
  auto& statement = m_statements.write_counter;
  for (const auto& [key, value] :
       {std::pair<std::string_view, std::uint64_t>{"dropped_batches", stats.dropped_batches},
        {"dropped_items", stats.dropped_items},
        {"dropped_bytes", stats.dropped_bytes}}) {
    statement.bind(1, key).bind(2, static_cast<std::int64_t>(value));
    if (auto written = statement.run(); !written) {
      return written;
    }
  }
  return {};
}

Result<void> Spool::refresh_bounds(SpoolStats& stats) {
  auto& statement = m_statements.seq_bounds;
  const sqlite::ResetOnExit reset(statement);
  auto row = statement.step();
  if (!row) {
    return fail(std::move(row).error());
  }
  // MIN and MAX of an empty table are NULL, which reads as 0, as SpoolStats wants.
  stats.first_seq = *row ? static_cast<std::uint64_t>(statement.column_int(0)) : 0;
  stats.last_seq = *row ? static_cast<std::uint64_t>(statement.column_int(1)) : 0;
  return {};
}

Error Spool::located(Error error, std::string_view what) const {
  return std::move(error).context(what).context("spool " + m_db.path().string());
}

} // namespace medic::agent::link
