// Process logging: one JSON object per line on stderr, for log shippers on Kubernetes. Messages
// are escaped by the formatter, so callers log any text as it is.
//   {"ts":"2026-11-25T10:43:17.123Z","level":"info","msg":"..."}
// Thread-safe (spdlog's stderr sink is mutex-guarded).
#pragma once

#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::log {

// Installs the JSON logger as spdlog's default. `level`: trace, debug, info, warn, error.
// INVALID_ARGUMENT for an unknown level.
absl::Status Init(absl::string_view level);

// Sends the log lines of the libraries underneath (protobuf's, at debug level: e.g. the invalid
// UTF-8 it meets while parsing, which the request parser names itself; gRPC's, at their own
// level) to spdlog's default logger, so nothing but JSON lines reaches stderr. Init calls it;
// idempotent and thread-safe.
void RouteLibraryLogs();

// A field of its own on a log line, besides "msg": `value` is written as a JSON string, or as it
// is when `raw` (numbers, true/false).
struct Field {
  absl::string_view key;
  absl::string_view value;
  bool raw = false;
};

// Log levels (the numbers are spdlog's).
enum class Level { kTrace = 0, kDebug = 1, kInfo = 2, kWarn = 3, kError = 4 };

// Logs `msg` at `level` with `fields` after it on the same JSON line:
//   {"ts":"...","level":"info","msg":"call","method":"/crm.v1.X/Y","code":"OK","ms":1.2}
// so that log shippers index them. Keys must be plain JSON keys (not escaped) other than ts,
// level and msg.
void Log(Level level, absl::string_view msg, std::initializer_list<Field> fields);

// `s` escaped for use inside a JSON string.
std::string JsonEscape(absl::string_view s);

}  // namespace crm::log
