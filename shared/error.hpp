// SPDX-License-Identifier: Apache-2.0
// The error type every fallible medic function returns, and the Result<T> alias.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace medic {

enum class ErrorCode {
  invalid_argument, // bad input from a caller, a user or the network
  config,           // a configuration file or override is wrong
  io,               // a file, socket or process call failed
  protocol,         // a peer sent something the protocol does not allow
  storage,          // the database refused or failed
  busy,             // a bounded queue is full or a resource is taken
  not_found,
  permission,
  internal, // our own bug surfaced as an error instead of a crash
};

std::string_view to_string(ErrorCode code) noexcept;

class Error {
public:
  Error(ErrorCode code, std::string message) : m_code(code), m_message(std::move(message)) {}

  [[nodiscard]] ErrorCode code() const noexcept { return m_code; }
  [[nodiscard]] const std::string& message() const noexcept { return m_message; }

  // Prefixes what the error passed through: "loading agent.yaml: " + message.
  [[nodiscard]] Error context(std::string_view where) && {
    m_message.insert(0, ": ");
    m_message.insert(0, where);
    return std::move(*this);
  }
  [[nodiscard]] Error context(std::string_view where) const& { return Error(*this).context(where); }

private:
  ErrorCode m_code;
  std::string m_message;
};

template <class T>
using Result = tl::expected<T, Error>;

[[nodiscard]] inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

[[nodiscard]] inline tl::unexpected<Error> fail(Error error) {
  return tl::unexpected<Error>(std::move(error));
}

// "what: strerror(errno)" for system call failures.
[[nodiscard]] std::string errno_text(std::string_view what, int error_number);

} // namespace medic
