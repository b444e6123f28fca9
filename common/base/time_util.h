// Conversions between google.protobuf.Timestamp (the wire and event time type) and absl::Time
// (the time type of the code), and the validity check of a Timestamp from a request.
// Thread-safe: pure functions.
#pragma once

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace crm::base {

// The time in `ts`. REQUIRES: IsValidTimestamp(ts) for a meaningful result.
absl::Time ToTime(const google::protobuf::Timestamp& ts);

// `t` as a Timestamp: whole seconds rounded toward the past, nanos in [0, 1e9).
google::protobuf::Timestamp ToTimestamp(absl::Time t);

// Whether `ts` is a valid Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, nanos in
// [0, 1e9).
bool IsValidTimestamp(const google::protobuf::Timestamp& ts);

}  // namespace crm::base
