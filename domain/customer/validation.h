// Field validation and normalization of the customer commands and queries; the checks every
// area shares live in domain/common/field_checks.h. Each returns INVALID_ARGUMENT naming `field` (a
// request path such as "customer.emails[0]"). Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "domain/common/field_checks.h"

namespace crm::domain::customer {

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxDisplayName = 200;
// region, industry, team, department
inline constexpr size_t kMaxShortText = 100;
inline constexpr size_t kMaxReason = 500;
inline constexpr size_t kMaxProduct = 200;
inline constexpr size_t kMaxEmails = 10;
inline constexpr size_t kMaxPhones = 10;
using crm::domain::kMaxEmail;
inline constexpr size_t kMaxAttributes = 50;
inline constexpr size_t kMaxAttributeKey = 64;
inline constexpr size_t kMaxAttributeValue = 1024;
inline constexpr size_t kMaxTags = 50;
inline constexpr size_t kMaxTag = 64;
using crm::domain::kMaxId;
using crm::domain::kMaxRequestId;
inline constexpr size_t kMaxPurchaseId = 64;
inline constexpr size_t kMaxExternalId = 128;
inline constexpr size_t kMaxAddresses = 10;
inline constexpr size_t kMaxAddressLines = 4;
inline constexpr size_t kMaxAddressLine = 200;
inline constexpr size_t kMaxPostalCode = 20;
inline constexpr size_t kMaxSocialIds = 10;
inline constexpr size_t kMaxSocialHandle = 100;
inline constexpr size_t kMaxContactPersons = 20;
inline constexpr size_t kMaxContactEmails = 5;
inline constexpr size_t kMaxContactPhones = 5;
// Largest amount of one purchase, in minor units (10^13 in major units of a
// 2-decimal currency).
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000'000;
// How far in the future (after the command's time) a purchase may be dated:
// clock skew allowance.
inline constexpr absl::Duration kMaxPurchaseFutureSkew = absl::Hours(24);

// Trimmed, lower-cased tag matching [a-z0-9][a-z0-9_:-]{0,63}.
absl::StatusOr<std::string> NormalizeTag(absl::string_view tag, absl::string_view field);
// An external id (crm.v1.Customer.external_id): empty, or at most kMaxExternalId characters of
// UTF-8 without control characters and without white space at either end.
absl::Status ValidateExternalId(absl::string_view id, absl::string_view field);
// ISO 4217 shape: three upper-case ASCII letters.
absl::Status ValidateCurrency(absl::string_view code, absl::string_view field);

// ISO 3166-1 alpha-2 shape: two upper-case ASCII letters; required.
absl::Status ValidateCountryCode(absl::string_view code, absl::string_view field);
// A social handle: 1 to kMaxSocialHandle characters of UTF-8 without white space or control
// characters.
absl::Status ValidateSocialHandle(absl::string_view handle, absl::string_view field);

// The shared field checks (domain/common/field_checks.h), under the names customer code uses.
using crm::domain::IsValidUtf8;
using crm::domain::NormalizeEmail;
using crm::domain::NormalizePhone;
using crm::domain::ValidateCustomerId;
using crm::domain::ValidateRequestId;
using crm::domain::ValidateRequiredEnum;
using crm::domain::ValidateStaffId;
using crm::domain::ValidateText;

}  // namespace crm::domain::customer
