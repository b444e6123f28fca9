// Parses request bytes into a message, turning protobuf's parse failures into INVALID_ARGUMENT
// that names the offending field.
//
// Why: gRPC's generated handlers reject a request with invalid UTF-8 in a string field, or an
// oversized one, with a bare INTERNAL/RESOURCE_EXHAUSTED. Our services take raw bytes instead
// (raw methods of rpc::ServiceTable) and parse here, so callers learn which field
// is wrong, as AIP-193 asks.
//
// Thread-safe.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace crm::rpc {

// Requests larger than this are refused with INVALID_ARGUMENT before parsing.
inline constexpr size_t kMaxRequestBytes = 1 << 20;

// Parses `bytes` into `message` (cleared first).
// INVALID_ARGUMENT: too large (field ""), invalid UTF-8 (field = path of the string field, e.g.
// "customer.display_name"), or malformed wire data.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes, google::protobuf::Message* message,
                          size_t max_bytes = kMaxRequestBytes);
absl::Status ParseRequest(const std::string& bytes, google::protobuf::Message* message,
                          size_t max_bytes = kMaxRequestBytes);

// Serializes `message` into a ByteBuffer for a raw response.
grpc::ByteBuffer SerializeResponse(const google::protobuf::Message& message);

// The request path of the field whose full name protobuf reports (e.g.
// "crm.v1.Customer.display_name" -> "customer.display_name"), searching `root`'s fields
// breadth-first. Map entry fields resolve to the map field. Empty if not found. For tests.
std::string FieldPathFor(const google::protobuf::Descriptor* root, const std::string& full_name);

}  // namespace crm::rpc
