// Consistency tokens: the opaque strings commands return and queries accept for read-your-writes.
// A token names, per partition, the offset of a record the reader must have applied.
// Encoding: base64url (no padding) of "p:o;p:o..." — clients must treat it as opaque.
// Thread-safe: pure functions.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::eventlog {

// partition -> offset that must be applied (inclusive).
using PositionMap = std::map<int32_t, int64_t>;

std::string EncodeConsistencyToken(const PositionMap& positions);
// INVALID_ARGUMENT for a malformed token. An empty token decodes to an empty map.
absl::StatusOr<PositionMap> DecodeConsistencyToken(absl::string_view token);

}  // namespace crm::eventlog
