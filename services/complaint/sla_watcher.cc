#include "services/complaint/sla_watcher.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/uuid.h"
#include "services/complaint/complaint_kind.h"
#include "spdlog/spdlog.h"

namespace crm::services::complaint {

SlaWatcher::SlaWatcher(ComplaintCommandHandler* handler, const kv::KvStore* command_state_store,
                       const base::Clock* clock,
                       std::function<bool(absl::string_view stream_key)> owns, Options options)
    : handler_(handler),
      store_(command_state_store),
      clock_(clock),
      owns_(std::move(owns)),
      options_(std::move(options)) {}

SlaWatcher::~SlaWatcher() { Stop(); }

std::string SlaWatcher::RequestIdFor(absl::string_view complaint, crm::v1::SlaKind kind,
                                     absl::Time due) {
  return base::UuidFromName(absl::StrCat(
      "crm.BreachSla/", complaint, "/", crm::v1::SlaKind_Name(kind), "/", absl::ToUnixMicros(due)));
}

void SlaWatcher::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void SlaWatcher::Stop() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
  // Direct RunOnce calls work again after Stop (stopping_ only cuts a scan short while stopping).
  absl::MutexLock lock(&mu_);
  stopping_ = false;
}

void SlaWatcher::Loop() {
  while (true) {
    absl::Status scanned = RunOnce();
    if (!scanned.ok()) {
      spdlog::warn("sla-watcher: scan incomplete, retrying in {}: {}",
                   absl::FormatDuration(options_.scan_interval), scanned.ToString());
    }
    absl::MutexLock lock(&mu_);
    // Sleeps until the interval passes or Stop() sets stopping_.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.scan_interval);
    if (stopping_) return;
  }
}

absl::Status SlaWatcher::RunOnce() {
  absl::MutexLock scan_lock(&scan_mu_);
  const absl::Time now = clock_->Now();
  std::vector<DeadlineEntry> due;
  absl::Status first_error;
  absl::Status scanned =
      store_->Scan(kDeadlinePrefix, DeadlineScanEnd(now), 0,
                   [&](absl::string_view key, absl::string_view value) {
                     absl::StatusOr<DeadlineEntry> entry = ParseDeadlineEntry(key, value);
                     if (!entry.ok()) {
                       spdlog::error("sla-watcher: {}", entry.status().ToString());
                       if (first_error.ok()) first_error = entry.status();
                       return true;
                     }
                     if (owns_ && !owns_(entry->customer_id)) return true;
                     due.push_back(*std::move(entry));
                     return due.size() < options_.max_per_scan;
                   });
  if (!scanned.ok()) return scanned;

  for (const DeadlineEntry& entry : due) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    rpc::CallContext call;
    call.actor = kActor;
    call.deadline = absl::Now() + options_.command_timeout;
    const std::string request_id = RequestIdFor(entry.complaint, entry.kind, entry.due);
    absl::StatusOr<ComplaintCommandHandler::Response> breached =
        handler_->BreachSla(entry.complaint, entry.kind, entry.due, request_id, call).Get();
    if (!breached.ok()) {
      spdlog::warn("sla-watcher: breach of the {} deadline of {} failed, retried next scan: {}",
                   crm::v1::SlaKind_Name(entry.kind), entry.complaint,
                   breached.status().ToString());
      if (first_error.ok()) first_error = breached.status();
    } else if (breached->appended_event_count() > 0) {
      spdlog::info("sla-watcher: {} deadline of {} breached, escalated to level {}",
                   crm::v1::SlaKind_Name(entry.kind), entry.complaint,
                   breached->complaint().escalation_level());
    }
  }
  return first_error;
}

}  // namespace crm::services::complaint
