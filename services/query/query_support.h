// What every query service shares: the read-your-writes wait on a consistency token, page sizes,
// and NOT_FOUND answers with google.rpc details. Page tokens are in page_token.h.
// Thread-safe: free functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/v1/analytics_service.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "readmodel/analytics/figures.h"

namespace crm::services::query {

// The largest page any list returns (AIP-158).
inline constexpr int32_t kMaxPageSize = 1000;

// The page size for a request's page_size: `default_size` for 0, at most kMaxPageSize.
// INVALID_ARGUMENT naming page_size if negative.
absl::StatusOr<size_t> PageSize(int32_t requested, int32_t default_size);

// The consistency wait of a query service's calls, as a rpc::ServiceTable::PreWait: a request
// with a non-empty `consistency_token` field waits, holding no worker, until `runner`'s serving
// folds have applied it, at most until the call's deadline or `max_wait` (the server's cap when
// the caller sets none), then DEADLINE_EXCEEDED (CONSISTENCY_WAIT_EXCEEDED); a call the caller
// cancels ends within the runner's poll interval (CANCELLED). A malformed token is
// INVALID_ARGUMENT. Requests without the field are not delayed. The handler's own
// AwaitConsistencyToken then finds the position applied.
rpc::ServiceTable::PreWait ConsistencyPreWait(fold::FoldRunner* runner, absl::Duration max_wait);

// What every query does first: UNAVAILABLE (reason VIEW_REBUILDING, safe to retry) while one of
// `folds` (the folds of `runner` whose keys the query reads) is being refolded after a version
// change; else waits until `runner` has applied the position named by `token` (empty: no wait),
// within the call's deadline and at most `max_wait`. INVALID_ARGUMENT naming consistency_token
// for a malformed token, DEADLINE_EXCEEDED (reason CONSISTENCY_WAIT_EXCEEDED) if not reached in
// time, UNAVAILABLE if the runner stopped.
absl::Status AwaitConsistencyToken(fold::FoldRunner* runner,
                                   std::initializer_list<absl::string_view> folds,
                                   const std::string& token, const rpc::CallContext& call,
                                   absl::Duration max_wait);

// Completes when `runner`'s serving folds have applied anything after `applied` in any of its
// partitions (partition 0 if it lists none), or at `deadline` (DEADLINE_EXCEEDED), or soon after
// `cancelled` returns true (CANCELLED; it is called under the runner's lock: cheap, never calling
// the runner), or when the runner stops (UNAVAILABLE). Holds no thread: for followers of the views
// (NotificationService.WatchNotifications, the notification relay).
base::Future<base::Done> WhenViewsAdvance(fold::FoldRunner* runner, eventlog::PositionMap applied,
                                          absl::Time deadline, std::function<bool()> cancelled);

// NOT_FOUND "<name> does not exist" with ErrorInfo `reason` (metadata name) and a ResourceInfo of
// `resource_type` (e.g. "crm.v1.Complaint").
absl::Status NotFound(absl::string_view name, absl::string_view reason,
                      absl::string_view resource_type);

// Time fields of report queries (analytics, segments).
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

// The report window of an analytics request (every AnalyticsService request has `interval` and
// `time_zone`): `interval` as a window whose set ends are each on a quarter hour (the time buckets
// of the figures, readmodel/analytics/figures.h), and `time_zone` (IANA, from the system's
// tzdata; empty is UTC). INVALID_ARGUMENT naming the field.
struct ReportWindow {
  readmodel::analytics::Window window;
  absl::TimeZone zone = absl::UTCTimeZone();
};
absl::StatusOr<ReportWindow> CheckReportWindow(const crm::v1::TimeInterval& interval,
                                               absl::string_view time_zone);
template <typename Request>
absl::StatusOr<ReportWindow> CheckReportWindow(const Request& request) {
  return CheckReportWindow(request.interval(), request.time_zone());
}

// Rows a list answers when the caller does not reach every row (common/auth/grant.h): up to
// `page_size` rows that `visible` keeps, read batch by batch through `fetch(after, n)` (rows in
// key order strictly after key `after`, and whether more follow). At most kMaxScannedPerPage
// rows are read for one page, so a page of a caller who reaches few rows may hold fewer than
// page_size rows (even none) and still have a next page: `more`, continuing after `last_key`.
inline constexpr size_t kMaxScannedPerPage = 5000;

template <typename Row>
struct VisiblePage {
  std::vector<Row> rows;
  std::string last_key;  // of the last row read, visible or not; the next page starts after it
  bool more = false;
};

template <typename Row, typename Fetch, typename KeyOf, typename Visible>
absl::StatusOr<VisiblePage<Row>> FetchVisible(std::string after, size_t page_size,
                                              const Fetch& fetch, const KeyOf& key_of,
                                              const Visible& visible) {
  VisiblePage<Row> page;
  page.last_key = after;
  size_t scanned = 0;
  while (true) {
    absl::StatusOr<std::pair<std::vector<Row>, bool>> batch = fetch(page.last_key, page_size);
    if (!batch.ok()) return batch.status();
    auto& [rows, more] = *batch;
    for (size_t i = 0; i < rows.size(); ++i) {
      page.last_key = key_of(rows[i]);
      ++scanned;
      if (visible(rows[i])) page.rows.push_back(std::move(rows[i]));
      if (page.rows.size() == page_size) {
        page.more = more || i + 1 < rows.size();
        return page;
      }
    }
    page.more = more && !rows.empty();
    if (!page.more) return page;
    if (scanned >= kMaxScannedPerPage) return page;
  }
}

}  // namespace crm::services::query
