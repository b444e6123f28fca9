#include "common/auth/grant.h"

#include "absl/strings/str_cat.h"
#include "common/status/errors.h"

namespace crm::auth {

absl::Status Denied(absl::string_view resource) {
  return status::Error(
      absl::StatusCode::kPermissionDenied,
      absl::StrCat("the caller may not access ", resource, " (or it does not exist)"),
      "ACCESS_DENIED", {{"resource", std::string(resource)}});
}

absl::Status CheckReach(const Grant* grant, const std::vector<std::string>& holders,
                        absl::string_view resource) {
  if (grant == nullptr || grant->Reaches(holders)) return absl::OkStatus();
  return Denied(resource);
}

}  // namespace crm::auth
