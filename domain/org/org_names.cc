#include "domain/org/org_names.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/errors.h"

namespace crm::domain::org {
namespace {

constexpr size_t kMaxId = 63;

bool IsIdChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

absl::StatusOr<std::string> ParseName(absl::string_view name, absl::string_view prefix,
                                      absl::string_view field) {
  if (name.empty()) return crm::status::InvalidArgument(field, "is required");
  if (!absl::StartsWith(name, prefix) || !ValidateOrgId(name.substr(prefix.size()), field).ok()) {
    return crm::status::InvalidArgument(
        field, absl::StrCat("must be ", prefix, "{id} with an id of 1 to 63 of [a-z0-9-]"));
  }
  return std::string(name.substr(prefix.size()));
}

}  // namespace

absl::Status ValidateOrgId(absl::string_view id, absl::string_view field) {
  if (id.empty()) return crm::status::InvalidArgument(field, "is required");
  if (id.size() > kMaxId || !std::all_of(id.begin(), id.end(), IsIdChar) || id.front() == '-') {
    return crm::status::InvalidArgument(
        field, "must be 1 to 63 of [a-z0-9-], starting with a letter or digit");
  }
  return absl::OkStatus();
}

std::string DepartmentName(absl::string_view id) { return absl::StrCat(kDepartmentPrefix, id); }
std::string TeamName(absl::string_view id) { return absl::StrCat(kTeamPrefix, id); }
std::string StaffName(absl::string_view id) { return absl::StrCat(kStaffPrefix, id); }

absl::StatusOr<std::string> ParseDepartmentName(absl::string_view name, absl::string_view field) {
  return ParseName(name, kDepartmentPrefix, field);
}
absl::StatusOr<std::string> ParseTeamName(absl::string_view name, absl::string_view field) {
  return ParseName(name, kTeamPrefix, field);
}
absl::StatusOr<std::string> ParseStaffName(absl::string_view name, absl::string_view field) {
  return ParseName(name, kStaffPrefix, field);
}

absl::string_view IdOf(absl::string_view name, absl::string_view prefix) {
  if (!absl::StartsWith(name, prefix)) return "";
  return name.substr(prefix.size());
}

}  // namespace crm::domain::org
