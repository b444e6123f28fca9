// Field checks shared by every area's rules (customers, org, interactions, complaints): text,
// UTF-8, ids, request ids, e-mail and phone normalization. Each returns INVALID_ARGUMENT naming
// `field` (a request path such as "customer.emails[0]"). Limits are documented in
// proto/crm/v1/README.md. Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace crm::domain {

// customer ids, staff ids
inline constexpr size_t kMaxId = 63;
inline constexpr size_t kMaxRequestId = 128;
inline constexpr size_t kMaxEmail = 254;

// Lower-cased, trimmed e-mail if it is a plausible address (local@domain.tld,
// no spaces or control characters, at most 254 bytes).
absl::StatusOr<std::string> NormalizeEmail(absl::string_view email, absl::string_view field);
// "+" followed by 6 to 15 digits, after removing spaces, dashes, dots and
// parentheses. A number without "+" keeps its digits with a "+" prepended.
absl::StatusOr<std::string> NormalizePhone(absl::string_view phone, absl::string_view field);
// 1 to 63 of [a-z0-9-], not starting or ending with "-".
absl::Status ValidateCustomerId(absl::string_view id, absl::string_view field);
// 1 to 63 of [A-Za-z0-9._-].
absl::Status ValidateStaffId(absl::string_view id, absl::string_view field);
// At most 128 printable ASCII characters (a UUID is recommended). Empty is
// allowed.
absl::Status ValidateRequestId(absl::string_view id, absl::string_view field);
// Valid UTF-8 of at most `max_chars` code points, without control characters
// other than tab, LF and CR; `required` rejects an empty (or all-blank) value.
absl::Status ValidateText(absl::string_view text, size_t max_chars, bool required,
                          absl::string_view field);
// A required enum field: value 0 (the UNSPECIFIED value) is "is required: A, B or C" (naming
// every other value of `type`), a number `type` does not define is "unknown value N".
absl::Status ValidateRequiredEnum(const google::protobuf::EnumDescriptor& type, int value,
                                  absl::string_view field);
// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates
// or values above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace crm::domain
