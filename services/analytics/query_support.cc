#include "services/analytics/query_support.h"

#include <algorithm>

#include "common/base/status_macros.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "readmodel/analytics/figures.h"

namespace crm::services::analytics {

absl::Status AwaitConsistencyToken(fold::FoldRunner* runner, const std::string& token,
                                   const rpc::CallContext& call, absl::Duration max_wait) {
  if (token.empty()) return absl::OkStatus();
  auto positions = eventlog::DecodeConsistencyToken(token);
  if (!positions.ok()) {
    return status::InvalidArgument("consistency_token", positions.status().message());
  }
  const absl::Time deadline = std::min(call.deadline, absl::Now() + max_wait);
  absl::Status reached = runner->WaitFor(*positions, deadline);
  if (absl::IsDeadlineExceeded(reached)) {
    return status::Error(absl::StatusCode::kDeadlineExceeded,
                         "the views have not yet applied the write named by consistency_token",
                         "CONSISTENCY_WAIT_EXCEEDED");
  }
  return reached;
}

absl::StatusOr<std::optional<absl::Time>> OptionalTime(bool has,
                                                       const google::protobuf::Timestamp& ts,
                                                       absl::string_view field) {
  if (!has) return std::nullopt;
  constexpr int64_t kMinSeconds = -62'135'596'800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z
  if (ts.seconds() < kMinSeconds || ts.seconds() > kMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999'999'999) {
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
