// SPDX-License-Identifier: Apache-2.0
// The migrations cmake/EmbedMigrations.cmake compiled in: well-formed and applicable.
#include <string>

#include <catch2/catch.hpp>

#include "migrations/migrations.hpp"
#include "shared/sqlite/database.hpp"

TEST_CASE("embedded migrations: versions are 1..N in order", "[migrations]") {
  const auto& migrations = medic::migrations::sqlite_migrations();
  REQUIRE_FALSE(migrations.empty());
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    INFO("migration #" << i);
    CHECK(migrations[i].version == static_cast<int>(i) + 1);
    CHECK_FALSE(migrations[i].name.empty());
    CHECK(migrations[i].sql.find("CREATE") != std::string_view::npos);
  }
  CHECK(migrations[0].name == "initial");
  // The same list every call: callers may keep references into it.
  CHECK(&medic::migrations::sqlite_migrations() == &migrations);
}

TEST_CASE("embedded migrations: all apply to an empty database", "[migrations]") {
  auto db = medic::sqlite::Database::open(":memory:", medic::sqlite::OpenMode::read_write_create);
  REQUIRE(db);
  const auto& migrations = medic::migrations::sqlite_migrations();
  auto version = db->migrate(migrations);
  if (!version) {
    FAIL("migrate: " << version.error().message());
  }
  CHECK(*version == migrations.back().version);
  // The SQL files must not create schema_migrations themselves, or applying them would fail.
  auto recorded = db->prepare("SELECT COUNT(*) FROM schema_migrations");
  REQUIRE(recorded);
  REQUIRE(recorded->step().value_or(false));
  CHECK(recorded->column_int(0) == static_cast<std::int64_t>(migrations.size()));
}
