// Field validation and normalization shared by the customer commands and queries.
// Each returns INVALID_ARGUMENT naming `field` (a request path such as "customer.emails[0]").
// Thread-safe: pure functions.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crm::domain::customer {

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxDisplayName = 200;
inline constexpr size_t kMaxShortText = 100;   // region, industry, team, department
inline constexpr size_t kMaxReason = 500;
inline constexpr size_t kMaxProduct = 200;
inline constexpr size_t kMaxEmails = 10;
inline constexpr size_t kMaxPhones = 10;
inline constexpr size_t kMaxEmail = 254;
inline constexpr size_t kMaxAttributes = 50;
inline constexpr size_t kMaxAttributeKey = 64;
inline constexpr size_t kMaxAttributeValue = 1024;
inline constexpr size_t kMaxTags = 50;
inline constexpr size_t kMaxTag = 64;
inline constexpr size_t kMaxId = 63;           // customer ids, staff ids
inline constexpr size_t kMaxRequestId = 128;

// Lower-cased, trimmed e-mail if it is a plausible address (local@domain.tld, no spaces).
absl::StatusOr<std::string> NormalizeEmail(absl::string_view email, absl::string_view field);
// "+" followed by 6 to 15 digits, after removing spaces, dashes, dots and parentheses. A number
// without "+" keeps its digits with a "+" prepended.
absl::StatusOr<std::string> NormalizePhone(absl::string_view phone, absl::string_view field);
// Lower-cased tag matching [a-z0-9][a-z0-9_:-]{0,63}.
absl::StatusOr<std::string> NormalizeTag(absl::string_view tag, absl::string_view field);
// 1 to 63 of [a-z0-9-], not starting or ending with "-".
absl::Status ValidateCustomerId(absl::string_view id, absl::string_view field);
// 1 to 63 of [A-Za-z0-9._-].
absl::Status ValidateStaffId(absl::string_view id, absl::string_view field);
// At most 128 printable ASCII characters (a UUID is recommended). Empty is allowed.
absl::Status ValidateRequestId(absl::string_view id, absl::string_view field);
// Valid UTF-8 of at most `max_chars` code points; `required` rejects an empty (or all-blank)
// value.
absl::Status ValidateText(absl::string_view text, size_t max_chars, bool required,
                          absl::string_view field);
// ISO 4217 shape: three upper-case ASCII letters.
absl::Status ValidateCurrency(absl::string_view code, absl::string_view field);

}  // namespace crm::domain::customer
