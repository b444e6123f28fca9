// Violations: collects the field violations of a request, so that one INVALID_ARGUMENT (with one
// google.rpc.BadRequest) lists every bad field instead of only the first. Used by the domain's
// Decide* validation. Not thread-safe: one per request.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/status/errors.h"
#include "google/rpc/error_details.pb.h"

namespace crm::status {

class Violations {
 public:
  // Adds the BadRequest field violations of `status` (an InvalidArgument from InvalidArgument());
  // a status without them is added as one violation without a field. OK adds nothing.
  void Add(const absl::Status& status) {
    if (status.ok()) return;
    google::rpc::BadRequest bad_request;
    if (GetDetail(status, &bad_request)) {
      for (const auto& fv : bad_request.field_violations()) {
        list_.push_back({fv.field(), fv.description()});
      }
    } else {
      list_.push_back({"", std::string(status.message())});
    }
  }
  void Add(absl::string_view field, absl::string_view description) {
    list_.push_back({std::string(field), std::string(description)});
  }
  // Adds the error of `value`, if any; returns whether it is ok.
  template <typename T>
  bool Check(const absl::StatusOr<T>& value) {
    Add(value.status());
    return value.ok();
  }
  // OK if nothing was added, else one INVALID_ARGUMENT listing everything.
  absl::Status ToStatus() const {
    return list_.empty() ? absl::OkStatus() : InvalidArguments(list_);
  }

 private:
  std::vector<FieldViolation> list_;
};

}  // namespace crm::status
