#include "common/eventlog/consistency_token.h"

#include <limits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/errors.h"

namespace crm::eventlog {
namespace {

constexpr absl::string_view kField = "consistency_token";

// Strict: decimal digits only (no sign, no spaces), at most `max`.
bool ParseNonNegative(absl::string_view s, int64_t max, int64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (v > (max - digit) / 10) return false;
    v = v * 10 + digit;
  }
  out = v;
  return true;
}

}  // namespace

std::string EncodeConsistencyToken(const PositionMap& positions) {
  std::string plain;
  for (const auto& [partition, offset] : positions) {
    absl::StrAppend(&plain, plain.empty() ? "" : ";", partition, ":", offset);
  }
  return absl::WebSafeBase64Escape(plain);
}

absl::StatusOr<PositionMap> DecodeConsistencyToken(absl::string_view token) {
  PositionMap positions;
  if (token.empty()) return positions;
  // WebSafeBase64Unescape tolerates padding; tokens we issue never have it.
  if (token.find('=') != absl::string_view::npos) {
    return status::InvalidArgument(kField, "malformed token");
  }
  std::string plain;
  if (!absl::WebSafeBase64Unescape(token, &plain) || plain.empty()) {
    return status::InvalidArgument(kField, "malformed token");
  }
  for (absl::string_view entry : absl::StrSplit(plain, ';')) {
    std::vector<absl::string_view> parts = absl::StrSplit(entry, ':');
    int64_t partition = 0;
    int64_t offset = 0;
    if (parts.size() != 2 ||
        !ParseNonNegative(parts[0], std::numeric_limits<int32_t>::max(), partition) ||
        !ParseNonNegative(parts[1], std::numeric_limits<int64_t>::max(), offset)) {
      return status::InvalidArgument(kField, "malformed token");
    }
    if (!positions.emplace(static_cast<int32_t>(partition), offset).second) {
      return status::InvalidArgument(kField, "malformed token: duplicate partition");
    }
  }
  return positions;
}

}  // namespace crm::eventlog
