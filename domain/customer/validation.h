// Field validation and normalization shared by the customer commands and
// queries. Each returns INVALID_ARGUMENT naming `field` (a request path such as
// "customer.emails[0]"). Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace crm::domain::customer {

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxDisplayName = 200;
// region, industry, team, department
inline constexpr size_t kMaxShortText = 100;
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
// customer ids, staff ids
inline constexpr size_t kMaxId = 63;
inline constexpr size_t kMaxRequestId = 128;
inline constexpr size_t kMaxPurchaseId = 64;
// Largest amount of one purchase, in minor units (10^13 in major units of a
// 2-decimal currency).
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000'000;
// How far in the future (after the command's time) a purchase may be dated:
// clock skew allowance.
inline constexpr absl::Duration kMaxPurchaseFutureSkew = absl::Hours(24);

// Lower-cased, trimmed e-mail if it is a plausible address (local@domain.tld,
// no spaces or control characters, at most 254 bytes).
absl::StatusOr<std::string> NormalizeEmail(absl::string_view email, absl::string_view field);
// "+" followed by 6 to 15 digits, after removing spaces, dashes, dots and
// parentheses. A number without "+" keeps its digits with a "+" prepended.
absl::StatusOr<std::string> NormalizePhone(absl::string_view phone, absl::string_view field);
// Trimmed, lower-cased tag matching [a-z0-9][a-z0-9_:-]{0,63}.
absl::StatusOr<std::string> NormalizeTag(absl::string_view tag, absl::string_view field);
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
// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates
// or values above U+10FFFF).
bool IsValidUtf8(absl::string_view text);
// ISO 4217 shape: three upper-case ASCII letters.
absl::Status ValidateCurrency(absl::string_view code, absl::string_view field);

}  // namespace crm::domain::customer
