#include "services/query/query_support.h"

#include <algorithm>
#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "readmodel/analytics/figures.h"

namespace crm::services::query {

absl::StatusOr<size_t> PageSize(int32_t requested, int32_t default_size) {
  if (requested < 0) return status::InvalidArgument("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return std::min(requested, kMaxPageSize);
}

namespace {

absl::Status ConsistencyWaitExceeded() {
  return status::Error(absl::StatusCode::kDeadlineExceeded,
                       "the views have not yet applied the write named by consistency_token",
                       "CONSISTENCY_WAIT_EXCEEDED");
}

}  // namespace

rpc::ServiceTable::PreWait ConsistencyPreWait(fold::FoldRunner* runner, absl::Duration max_wait) {
  return [runner, max_wait](const google::protobuf::Message& request,
                            const rpc::CallContext& call) -> base::Future<base::Done> {
    const google::protobuf::FieldDescriptor* field =
        request.GetDescriptor()->FindFieldByName("consistency_token");
    if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
        field->is_repeated()) {
      return base::Done{};
    }
    const std::string token = request.GetReflection()->GetString(request, field);
    if (token.empty()) return base::Done{};
    absl::StatusOr<eventlog::PositionMap> positions = eventlog::DecodeConsistencyToken(token);
    if (!positions.ok()) return positions.status();
    const absl::Time deadline = std::min(call.deadline, absl::Now() + max_wait);
    base::Promise<base::Done> promise;
    base::Future<base::Done> waited = promise.future();
    // A caller that cancels (or goes away) ends its wait at the runner's next poll: otherwise the
    // call stays in flight until the deadline and holds up a shutdown's drain for it.
    runner->WhenApplied(*positions, deadline, call.cancelled)
        .OnReady([promise = std::move(promise)](absl::StatusOr<base::Done> reached) mutable {
          if (absl::IsDeadlineExceeded(reached.status())) {
            promise.Set(ConsistencyWaitExceeded());
          } else {
            promise.Set(std::move(reached));
          }
        });
    return waited;
  };
}

absl::Status AwaitConsistencyToken(fold::FoldRunner* runner,
                                   std::initializer_list<absl::string_view> folds,
                                   const std::string& token, const rpc::CallContext& call,
                                   absl::Duration max_wait) {
  for (absl::string_view fold : folds) {
    absl::Status serving = runner->Serving(fold);
    if (absl::IsUnavailable(serving)) {
      return status::Error(absl::StatusCode::kUnavailable,
                           absl::StrCat("this view is being rebuilt: ", serving.message()),
                           "VIEW_REBUILDING", {{"fold", std::string(fold)}});
    }
    if (!serving.ok()) return absl::InternalError(serving.message());
  }
  if (token.empty()) return absl::OkStatus();
  CRM_ASSIGN_OR_RETURN(eventlog::PositionMap positions, eventlog::DecodeConsistencyToken(token));
  const absl::Time deadline = std::min(call.deadline, absl::Now() + max_wait);
  absl::Status reached = runner->WaitFor(positions, deadline);
  if (absl::IsDeadlineExceeded(reached)) return ConsistencyWaitExceeded();
  return reached;
}

absl::Status NotFound(absl::string_view name, absl::string_view reason,
                      absl::string_view resource_type) {
  return status::ResourceNotFound(resource_type, name, reason, {{"name", std::string(name)}});
}

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

absl::StatusOr<ReportWindow> CheckReportWindow(const crm::v1::TimeInterval& interval,
                                               absl::string_view time_zone) {
  ReportWindow out;
  CRM_ASSIGN_OR_RETURN(Window window, CheckWindow(interval.has_start_time(), interval.start_time(),
                                                  "interval.start_time", interval.has_end_time(),
                                                  interval.end_time(), "interval.end_time"));
  for (const auto& [end, field] : {std::pair(window.start, "interval.start_time"),
                                   std::pair(window.end, "interval.end_time")}) {
    if (end.has_value() && !readmodel::analytics::OnTimeBucketEdge(*end)) {
      return status::InvalidArgument(
          field, "must be on a quarter hour (a whole multiple of 15 minutes since the epoch, UTC)");
    }
  }
  out.window = {window.start, window.end};
  if (!time_zone.empty() && !absl::LoadTimeZone(std::string(time_zone), &out.zone)) {
    return status::InvalidArgument("time_zone",
                                   "is not a known IANA time zone (e.g. \"Asia/Shanghai\")");
  }
  return out;
}

base::Future<base::Done> WhenViewsAdvance(fold::FoldRunner* runner, eventlog::PositionMap applied,
                                          absl::Time deadline, std::function<bool()> cancelled) {
  // One wait per partition; the first to complete answers, and the others then end at their
  // next poll (their `cancelled` sees `done`).
  struct Shared {
    base::Promise<base::Done> promise;
    std::atomic<bool> done{false};
  };
  auto shared = std::make_shared<Shared>();
  base::Future<base::Done> future = shared->promise.future();
  if (applied.empty()) applied[0] = -1;
  for (const auto& [partition, offset] : applied) {
    runner
        ->WhenApplied({{partition, offset + 1}}, deadline,
                      [shared, cancelled] { return shared->done.load() || cancelled(); })
        .OnReady([shared](absl::StatusOr<base::Done> result) {
          if (!shared->done.exchange(true)) shared->promise.Set(std::move(result));
        });
  }
  return future;
}

}  // namespace crm::services::query
