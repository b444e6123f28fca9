#include "common/status/errors.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/proto_util.h"
#include "google/rpc/error_details.pb.h"

namespace crm::status {

absl::Status InvalidArgument(absl::string_view field, absl::string_view description) {
  return InvalidArguments({{std::string(field), std::string(description)}});
}

absl::Status InvalidArguments(const std::vector<FieldViolation>& violations) {
  google::rpc::BadRequest bad_request;
  std::vector<std::string> parts;
  for (const auto& v : violations) {
    auto* fv = bad_request.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
    parts.push_back(v.field.empty() ? v.description : absl::StrCat(v.field, ": ", v.description));
  }
  absl::Status status(absl::StatusCode::kInvalidArgument, absl::StrJoin(parts, "; "));
  AddDetail(status, bad_request);
  google::rpc::ErrorInfo info;
  info.set_reason("INVALID_ARGUMENT");
  info.set_domain(std::string(kErrorDomain));
  if (!violations.empty()) (*info.mutable_metadata())["field"] = violations.front().field;
  AddDetail(status, info);
  return status;
}

absl::Status Error(absl::StatusCode code, absl::string_view message, absl::string_view reason,
                   const std::map<std::string, std::string>& metadata) {
  absl::Status status(code, message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  AddDetail(status, info);
  return status;
}

absl::Status ResourceNotFound(absl::string_view resource_type, absl::string_view resource_name,
                              absl::string_view reason,
                              const std::map<std::string, std::string>& metadata,
                              absl::string_view message) {
  absl::Status status =
      Error(absl::StatusCode::kNotFound,
            message.empty() ? absl::StrCat(resource_name, " does not exist") : std::string(message),
            reason, metadata);
  google::rpc::ResourceInfo info;
  info.set_resource_type(std::string(resource_type));
  info.set_resource_name(std::string(resource_name));
  AddDetail(status, info);
  return status;
}

absl::Status PreconditionFailed(absl::string_view reason, absl::string_view message,
                                absl::string_view subject,
                                const std::map<std::string, std::string>& metadata) {
  absl::Status status = Error(absl::StatusCode::kFailedPrecondition, message, reason, metadata);
  google::rpc::PreconditionFailure failure;
  auto* violation = failure.add_violations();
  violation->set_type(std::string(reason));
  violation->set_subject(std::string(subject));
  violation->set_description(std::string(message));
  AddDetail(status, failure);
  return status;
}

void AddDetail(absl::Status& status, const google::protobuf::Message& detail) {
  status.SetPayload(absl::StrCat("type.googleapis.com/", detail.GetDescriptor()->full_name()),
                    // Deterministic: an ErrorInfo's metadata map in key order, so the same
                    // error always has the same bytes.
                    absl::Cord(base::SerializeDeterministic(detail)));
}

std::vector<std::pair<std::string, std::string>> Details(const absl::Status& status) {
  std::vector<std::pair<std::string, std::string>> out;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.emplace_back(std::string(url), std::string(payload));
  });
  // absl::Status does not promise an iteration order (it varies between calls): sort, so the
  // same error always has the same bytes on the wire (a retried import row's error included).
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace crm::status
