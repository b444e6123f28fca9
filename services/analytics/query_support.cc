#include "services/analytics/query_support.h"

#include <algorithm>

#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "readmodel/analytics/figures.h"

namespace crm::services::analytics {

absl::StatusOr<std::optional<absl::Time>> OptionalTime(bool has,
                                                       const google::protobuf::Timestamp& ts,
                                                       absl::string_view field) {
  if (!has) return std::nullopt;
  if (!base::IsValidTimestamp(ts)) {
    return status::InvalidArgument(field, "is not a valid timestamp");
  }
  return readmodel::analytics::ToTime(ts);
}

absl::StatusOr<Window> CheckWindow(bool has_start, const google::protobuf::Timestamp& start,
                                   absl::string_view start_field, bool has_end,
                                   const google::protobuf::Timestamp& end,
                                   absl::string_view end_field) {
  Window window;
  CRM_ASSIGN_OR_RETURN(window.start, OptionalTime(has_start, start, start_field));
  CRM_ASSIGN_OR_RETURN(window.end, OptionalTime(has_end, end, end_field));
  if (window.start.has_value() && window.end.has_value() && *window.end <= *window.start) {
    return status::InvalidArgument(end_field, "must be after start_time");
  }
  return window;
}

}  // namespace crm::services::analytics
