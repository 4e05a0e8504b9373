// SPDX-License-Identifier: Apache-2.0
#include "coordinator/storage/store_factory.hpp"

#include "coordinator/storage/postgres/postgres_store.hpp"
#include "coordinator/storage/sqlite/sqlite_store.hpp"

namespace medic::coordinator::storage {

namespace {

constexpr std::string_view k_forms =
    "expected sqlite:///path/to/medic.db or postgresql://user:password@host:port/database";

} // namespace

Result<StoreKind> store_kind(std::string_view url) {
  if (url.starts_with("sqlite:")) {
    return StoreKind::sqlite;
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return StoreKind::postgres;
  }
  const auto colon = url.find(':');
  const std::string scheme =
      colon == std::string_view::npos ? std::string() : std::string(url.substr(0, colon));
  return fail(ErrorCode::config,
              (scheme.empty() ? std::string("storage URL has no scheme")
                              : "unsupported storage URL scheme '" + scheme + "'") +
                  "; " + std::string(k_forms));
}

Result<std::string> sqlite_path(std::string_view url) {
  if (!url.starts_with("sqlite:")) {
    return fail(ErrorCode::config, "not a sqlite: URL; " + std::string(k_forms));
  }
  url.remove_prefix(7);
  if (url.starts_with("//")) {
    url.remove_prefix(2); // sqlite:///abs/path -> /abs/path; sqlite://rel -> rel
  }
  if (url.empty()) {
    return fail(ErrorCode::config, "sqlite: URL without a file path; " + std::string(k_forms));
  }
  return std::string(url);
}

Result<std::unique_ptr<Store>> open_store(const std::string& url) {
  auto kind = store_kind(url);
  if (!kind) {
    return fail(std::move(kind).error());
  }
  if (*kind == StoreKind::postgres) {
    return open_postgres_store(url);
  }
  auto path = sqlite_path(url);
  if (!path) {
    return fail(std::move(path).error());
  }
  return open_sqlite_store(*path);
}

} // namespace medic::coordinator::storage
