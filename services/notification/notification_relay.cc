#include "services/notification/notification_relay.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/log/log.h"
#include "crm/v1/notification.pb.h"
#include "services/query/query_support.h"

namespace crm::services::notification {

namespace views = readmodel::notification;

NotificationRelay::NotificationRelay(kv::KvStore* views, fold::FoldRunner* views_runner,
                                     eventlog::EventLog* out, Options options)
    : views_(views),
      reader_(views),
      runner_(views_runner),
      out_(out),
      options_(options),
      published_(metrics::Registry::Default()
                     .Counters("crm_notifications_published_total",
                               "Notifications published to the outbound notification topic "
                               "(at least once: a crash may publish some again).")
                     .Add({})),
      failures_(metrics::Registry::Default()
                    .Counters("crm_notification_publish_failures_total",
                              "Batches of notifications that could not be published (retried).")
                    .Add({})) {}

NotificationRelay::~NotificationRelay() { Stop(); }

void NotificationRelay::Start() {
  thread_ = std::thread([this] { Run(); });
}

void NotificationRelay::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<bool> NotificationRelay::PublishNext(views::NotificationCursor& cursor) {
  CRM_RETURN_IF_ERROR(runner_->Serving(views::kFoldName));
  CRM_ASSIGN_OR_RETURN(auto page, reader_.OutboxAfter(cursor, options_.batch));
  if (page.notifications.empty()) return false;
  std::vector<base::Future<eventlog::LogPosition>> appends;
  const absl::Time deadline = absl::Now() + options_.append_timeout;
  for (crm::v1::Notification& n : page.notifications) {
    n.clear_cursor();
    const std::string staff_id(absl::StripPrefix(n.recipient(), "staff/"));
    const absl::string_view name = n.name();
    std::vector<eventlog::AppendValue> values(1);
    values[0].headers = {
        {"record-type", kRecordType},
        {"content-type", "application/x-protobuf; messageType=crm.v1.Notification"},
        {"notification-id", std::string(name.substr(name.rfind('/') + 1))},
        {"reason", crm::v1::NotificationReason_Name(n.reason())},
        {"ce_time",
         absl::FormatTime(absl::RFC3339_full, base::ToTime(n.create_time()), absl::UTCTimeZone())}};
    values[0].value = n.SerializeAsString();
    appends.push_back(out_->AppendAsync(staff_id, std::move(values), deadline));
  }
  absl::Status failed;
  for (auto& append : appends) {
    absl::StatusOr<eventlog::LogPosition> done = std::move(append).Get();
    if (!done.ok() && failed.ok()) failed = done.status();
  }
  CRM_RETURN_IF_ERROR(failed);
  kv::KvBatch batch = views_->NewBatch();
  batch.Put(kCursorKey, views::EncodeCursor(page.cursor));
  CRM_RETURN_IF_ERROR(views_->Write(batch));
  published_.Increment(static_cast<int64_t>(page.notifications.size()));
  cursor = std::move(page.cursor);
  return true;
}

void NotificationRelay::Run() {
  views::NotificationCursor cursor;
  if (auto stored = views_->Get(kCursorKey); stored.ok() && stored->has_value()) {
    if (auto decoded = views::DecodeCursor(**stored, "cursor"); decoded.ok()) {
      cursor = *std::move(decoded);
    }
  }
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stopping_) {
    const eventlog::PositionMap applied = runner_->Applied();
    absl::StatusOr<bool> published = PublishNext(cursor);
    if (!published.ok()) {
      failures_.Increment();
      log::Log(log::Level::kWarn, "notification relay: publish failed; retrying",
               {{"error", published.status().ToString()}});
      const absl::Time until = absl::Now() + backoff;
      while (!stopping_ && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(100);
    if (*published) continue;
    // Nothing new: wait until the views apply anything (or the poll interval passes).
    (void)query::WhenViewsAdvance(runner_, applied, absl::Now() + options_.poll, [this] {
      return stopping_.load();
    }).Get();
  }
}

}  // namespace crm::services::notification
