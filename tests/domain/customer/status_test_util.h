// Test helpers that read the google.rpc details our errors carry
// (common/status/errors.h).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"

namespace crm::domain::customer::testing {

// Field paths of the BadRequest violations attached to `status`, in order.
inline std::vector<std::string> ViolationFields(const absl::Status& status) {
  google::rpc::BadRequest bad_request;
  std::vector<std::string> fields;
  if (crm::status::GetDetail(status, &bad_request)) {
    for (const auto& fv : bad_request.field_violations()) fields.push_back(fv.field());
  }
  return fields;
}

// The first violated field, or "" if none.
inline std::string FirstField(const absl::Status& status) {
  auto fields = ViolationFields(status);
  return fields.empty() ? "" : fields.front();
}

inline google::rpc::ErrorInfo Info(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  crm::status::GetDetail(status, &info);
  return info;
}

inline std::string Reason(const absl::Status& status) { return Info(status).reason(); }

inline std::string Meta(const absl::Status& status, const std::string& key) {
  auto info = Info(status);
  auto it = info.metadata().find(key);
  return it == info.metadata().end() ? "<unset>" : it->second;
}

}  // namespace crm::domain::customer::testing
