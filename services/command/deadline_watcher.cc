#include "services/command/deadline_watcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace crm::services::command {
namespace {

std::string Micros20(absl::Time t) {
  int64_t micros = absl::ToUnixMicros(t);
  if (micros < 0) micros = 0;
  return absl::StrFormat("%020d", micros);
}

}  // namespace

std::string DeadlineIndexKey(absl::string_view prefix, absl::Time due, absl::string_view rest) {
  return absl::StrCat(prefix, Micros20(due), "/", rest);
}

std::string DeadlineIndexScanEnd(absl::string_view prefix, absl::Time t) {
  // Keys of deadlines due at micros <= t's all sort before "<prefix><t micros>0" ('/' < '0').
  return absl::StrCat(prefix, Micros20(t), "0");
}

std::string DeadlineIndexScanStart(absl::string_view prefix, absl::Time t) {
  // Keys of deadlines due at micros >= t's all sort at or after "<prefix><t micros>".
  return absl::StrCat(prefix, Micros20(t));
}

bool DeadlineIndexRest(absl::string_view key, absl::string_view prefix, absl::string_view* rest) {
  absl::string_view r = key;
  if (!absl::ConsumePrefix(&r, prefix) || r.size() < 22 || r[20] != '/') return false;
  r.remove_prefix(21);
  *rest = r;
  return true;
}

DeadlineWatcher::DeadlineWatcher(std::vector<const DeadlineSource*> sources,
                                 const kv::KvStore* command_state_store, const base::Clock* clock,
                                 std::function<bool(absl::string_view stream_key)> owns,
                                 Options options)
    : sources_(std::move(sources)),
      store_(command_state_store),
      clock_(clock),
      owns_(std::move(owns)),
      options_(std::move(options)) {}

DeadlineWatcher::~DeadlineWatcher() { Stop(); }

void DeadlineWatcher::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void DeadlineWatcher::Stop() {
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

void DeadlineWatcher::Loop() {
  while (true) {
    absl::Status scanned = RunOnce();
    if (!scanned.ok()) {
      spdlog::warn("deadline-watcher: scan incomplete, retrying in {}: {}",
                   absl::FormatDuration(options_.scan_interval), scanned.ToString());
    }
    absl::MutexLock lock(&mu_);
    // Sleeps until the interval passes or Stop() sets stopping_.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.scan_interval);
    if (stopping_) return;
  }
}

absl::Status DeadlineWatcher::RunOnce() {
  absl::MutexLock scan_lock(&scan_mu_);
  const absl::Time now = clock_->Now();
  std::vector<DeadlineSource::Due> due;
  absl::Status first_error;
  for (const DeadlineSource* source : sources_) {
    if (due.size() >= options_.max_per_scan) break;
    absl::Status scanned =
        // A reminder source looks from now to now + lead: a passed deadline gets no reminder
        // (its breach, if any, is another source's), so overdue entries are not read again.
        store_->Scan(source->lead() > absl::ZeroDuration()
                         ? DeadlineIndexScanStart(source->prefix(), now)
                         : std::string(source->prefix()),
                     DeadlineIndexScanEnd(source->prefix(), now + source->lead()), 0,
                     [&](absl::string_view key, absl::string_view value) {
                       absl::StatusOr<DeadlineSource::Due> entry = source->Parse(key, value);
                       if (!entry.ok()) {
                         spdlog::error("deadline-watcher: {}", entry.status().ToString());
                         if (first_error.ok()) first_error = entry.status();
                         return true;
                       }
                       if (!entry->act) return true;  // nothing to do for this one
                       if (owns_ && !owns_(entry->stream_key)) return true;
                       due.push_back(*std::move(entry));
                       return due.size() < options_.max_per_scan;
                     });
    if (!scanned.ok()) return scanned;
  }

  for (const DeadlineSource::Due& entry : due) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    rpc::CallContext call;
    call.actor = kActor;
    call.deadline = absl::Now() + options_.command_timeout;
    absl::StatusOr<std::string> done = entry.act(call);
    if (!done.ok()) {
      spdlog::warn("deadline-watcher: {} failed, retried next scan: {}", entry.what,
                   done.status().ToString());
      if (first_error.ok()) first_error = done.status();
    } else if (!done->empty()) {
      spdlog::info("deadline-watcher: {}: {}", entry.what, *done);
    }
  }
  return first_error;
}

}  // namespace crm::services::command
