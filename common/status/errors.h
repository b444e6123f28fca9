// Constructors for the errors the CRM returns, carrying google.rpc error details (BadRequest,
// ErrorInfo, ...) as absl::Status payloads so that they survive being passed up as plain
// absl::Status. common/rpc/grpc_status.h turns them into the gRPC wire form, in one place.
//
// Pick the code by what the caller should do next (see ../../../shared/STYLE.md, "Errors").
// Thread-safe: free functions without shared state.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace crm::status {

// The ErrorInfo domain of every error this service raises.
inline constexpr absl::string_view kErrorDomain = "crm.v1";

struct FieldViolation {
  std::string field;        // Path in the request, e.g. "customer.emails[2]".
  std::string description;  // Why it is invalid.
};

// INVALID_ARGUMENT with a BadRequest naming `field`. The message is "<field>: <description>".
absl::Status InvalidArgument(absl::string_view field, absl::string_view description);
// INVALID_ARGUMENT listing several fields. REQUIRES: !violations.empty().
absl::Status InvalidArguments(const std::vector<FieldViolation>& violations);

// An error with an ErrorInfo{reason, domain=kErrorDomain, metadata}.
absl::Status Error(absl::StatusCode code, absl::string_view message, absl::string_view reason,
                   const std::map<std::string, std::string>& metadata = {});

// NOT_FOUND for a resource: "<resource_name> does not exist" (or `message`), with an ErrorInfo
// {reason, metadata} and a ResourceInfo {resource_type (e.g. "crm.v1.Complaint"), resource_name}.
absl::Status ResourceNotFound(absl::string_view resource_type, absl::string_view resource_name,
                              absl::string_view reason,
                              const std::map<std::string, std::string>& metadata,
                              absl::string_view message = "");

// FAILED_PRECONDITION `message` with an ErrorInfo {reason, metadata} and a PreconditionFailure of
// one violation {type = reason, subject, description = message}.
absl::Status PreconditionFailed(absl::string_view reason, absl::string_view message,
                                absl::string_view subject,
                                const std::map<std::string, std::string>& metadata);

// Attaches a google.rpc detail message (BadRequest, ErrorInfo, ResourceInfo, ...) to `status`.
// REQUIRES: !status.ok(). A second detail of the same type replaces the first.
void AddDetail(absl::Status& status, const google::protobuf::Message& detail);

// The google.rpc detail messages attached to `status`, as (type URL, serialized bytes), in type
// URL order: the same error always gives the same details in the same order.
std::vector<std::pair<std::string, std::string>> Details(const absl::Status& status);

// Reads the detail of type T attached to `status`, if any. For tests and mapping.
template <typename T>
bool GetDetail(const absl::Status& status, T* out) {
  auto payload = status.GetPayload("type.googleapis.com/" + T::descriptor()->full_name());
  return payload.has_value() && out->ParseFromString(std::string(*payload));
}

}  // namespace crm::status
