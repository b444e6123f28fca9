// Checks of time fields shared by the analytics and segment query services.
// Thread-safe: free functions.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace crm::services::analytics {

// The time in `ts` if it is set (nullopt if not). INVALID_ARGUMENT naming `field` if it is not a
// valid Timestamp (0001-01-01 to 9999-12-31, nanos in [0, 1e9)).
absl::StatusOr<std::optional<absl::Time>> OptionalTime(bool has,
                                                       const google::protobuf::Timestamp& ts,
                                                       absl::string_view field);

// A window [start, end) from two optional Timestamp fields; INVALID_ARGUMENT naming the field if
// one is malformed, or `end_field` if end is not after start.
struct Window {
  std::optional<absl::Time> start;
  std::optional<absl::Time> end;
};
absl::StatusOr<Window> CheckWindow(bool has_start, const google::protobuf::Timestamp& start,
                                   absl::string_view start_field, bool has_end,
                                   const google::protobuf::Timestamp& end,
                                   absl::string_view end_field);

}  // namespace crm::services::analytics
