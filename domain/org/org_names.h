// Resource names, ids and etags of the organisation: "departments/{id}", "teams/{id}",
// "staff/{id}" with ids of 1 to 63 of [a-z0-9-] starting with a letter or digit (like customer
// ids), and etags "v<version>". Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/status/etag.h"

namespace crm::domain::org {

inline constexpr absl::string_view kDepartmentPrefix = "departments/";
inline constexpr absl::string_view kTeamPrefix = "teams/";
inline constexpr absl::string_view kStaffPrefix = "staff/";

// 1 to 63 of [a-z0-9-], starting with a letter or digit. INVALID_ARGUMENT naming `field`.
absl::Status ValidateOrgId(absl::string_view id, absl::string_view field);

std::string DepartmentName(absl::string_view id);
std::string TeamName(absl::string_view id);
std::string StaffName(absl::string_view id);

// The id in a resource name of the given kind; INVALID_ARGUMENT naming `field` if empty or
// malformed.
absl::StatusOr<std::string> ParseDepartmentName(absl::string_view name, absl::string_view field);
absl::StatusOr<std::string> ParseTeamName(absl::string_view name, absl::string_view field);
absl::StatusOr<std::string> ParseStaffName(absl::string_view name, absl::string_view field);

// The id after `prefix` in `name`, or "" if `name` does not start with it. No validation.
absl::string_view IdOf(absl::string_view name, absl::string_view prefix);

// The AIP-154 etag of a version: "v<version>".
using crm::status::Etag;
// The version in an etag; INVALID_ARGUMENT naming `field` if malformed.
inline absl::StatusOr<int64_t> ParseEtag(absl::string_view etag, absl::string_view field) {
  return crm::status::ParseEtag(etag, field, "the resource's etag");
}

}  // namespace crm::domain::org
