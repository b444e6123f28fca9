#include "apps/runtime/monitor.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace crm::runtime {
namespace {

double DirectoryBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  double total = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) total += static_cast<double>(size);
    }
  }
  return total;
}

}  // namespace

Monitor::Monitor(eventlog::EventLog* log, bool writer, std::vector<Store> stores,
                 rpc::HealthService* health, std::vector<std::string> services, Options options)
    : log_(log),
      writer_(writer),
      stores_(std::move(stores)),
      health_(health),
      services_(std::move(services)),
      options_(options) {}

Monitor::~Monitor() { Stop(); }

void Monitor::Start() {
  {
    absl::MutexLock lock(&mu_);
    stalled_ = false;
  }
  health_->SetStatus("liveness", grpc::health::v1::HealthCheckResponse::SERVING);
  MeasureOnce();
  hook_ = metrics::Registry::Default().AddCollectHook([this] { Collect(); });
  thread_ = std::thread([this] {
    while (!stop_.WaitForNotificationWithTimeout(options_.interval)) MeasureOnce();
  });
}

void Monitor::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  hook_ = metrics::Registry::HookHandle();
}

std::string Monitor::NotReadyReason() const {
  absl::MutexLock lock(&mu_);
  return not_ready_;
}

void Monitor::CheckLiveness() {
  absl::Duration oldest = absl::ZeroDuration();
  for (rpc::Executor* pool : options_.executors) oldest = std::max(oldest, pool->OldestWait());
  const bool stalled = oldest > options_.stalled_after;
  {
    absl::MutexLock lock(&mu_);
    if (stalled == stalled_) return;
    stalled_ = stalled;
  }
  if (stalled) {
    spdlog::error("workers stalled: a call has waited {} for a worker; liveness NOT_SERVING",
                  absl::FormatDuration(oldest));
  } else {
    spdlog::info("workers moving again; liveness SERVING");
  }
  health_->SetStatus("liveness", stalled ? grpc::health::v1::HealthCheckResponse::NOT_SERVING
                                         : grpc::health::v1::HealthCheckResponse::SERVING);
}

void Monitor::MeasureOnce() {
  CheckLiveness();
  std::string reason;
  if (writer_) {
    // A writer that cannot write is not ready, whatever its folds say.
    absl::Status writer = log_->WriterStatus();
    if (!writer.ok()) reason = std::string(writer.message());
  }
  for (const Store& store : stores_) {
    if (store.runner == nullptr || !reason.empty()) continue;  // measuring would only block
    fold::FoldRunner::Progress progress = store.runner->MeasureProgress();
    if (!progress.log_status.ok() && writer_ && reason.empty()) {
      reason = absl::StrCat("the event log cannot be reached: ", progress.log_status.message());
    }
    for (const auto& p : progress.partitions) {
      if (p.lag_time > options_.max_lag && reason.empty()) {
        reason = absl::StrCat(store.name, " are ", p.lag, " offsets and ",
                              absl::FormatDuration(p.lag_time), " behind the log in partition ",
                              p.partition, " (bound ", absl::FormatDuration(options_.max_lag), ")");
      }
    }
  }
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    changed = first_ || reason != not_ready_;
    if (changed && !first_) {
      if (reason.empty()) {
        spdlog::info("ready again");
      } else if (not_ready_.empty()) {
        spdlog::warn("not ready: {}", reason);
      }
    } else if (changed && !reason.empty()) {
      spdlog::warn("not ready: {}", reason);
    }
    first_ = false;
    not_ready_ = reason;
  }
  if (!changed) return;
  const auto status = reason.empty() ? grpc::health::v1::HealthCheckResponse::SERVING
                                     : grpc::health::v1::HealthCheckResponse::NOT_SERVING;
  health_->SetStatus("", status);
  for (const std::string& service : services_) health_->SetStatus(service, status);
}

void Monitor::Collect() {
  metrics::Registry& r = metrics::Registry::Default();
  static const metrics::GaugeFamily applied =
      r.Gauges("crm_fold_applied_offset", "Last log offset applied by the serving folds.");
  static const metrics::GaugeFamily end =
      r.Gauges("crm_fold_log_end_offset", "The log's end offset (next offset) when last measured.");
  static const metrics::GaugeFamily lag =
      r.Gauges("crm_fold_lag_offsets", "Offsets in the log not yet applied by the serving folds.");
  static const metrics::GaugeFamily lag_seconds = r.Gauges(
      "crm_fold_lag_seconds", "Age of the oldest log offset not yet applied (0: caught up).");
  static const metrics::GaugeFamily dead = r.Gauges(
      "crm_fold_dead_letters", "Records a fold could not decode, since the process started.");
  static const metrics::GaugeFamily unknown = r.Gauges(
      "crm_fold_unknown_records", "Records of event types this build does not know, skipped.");
  static const metrics::GaugeFamily refolding =
      r.Gauges("crm_fold_refolding", "1 while the fold refolds in the background.");
  static const metrics::GaugeFamily disk =
      r.Gauges("crm_store_disk_bytes", "Bytes on disk of a store's directory.");
  static const metrics::Gauge ready =
      r.Gauges("crm_ready", "1 when the process is ready (health \"\" SERVING).").Add({});

  for (const Store& store : stores_) {
    if (!store.dir.empty()) disk.Add({{"store", store.name}}).Set(DirectoryBytes(store.dir));
    if (store.runner == nullptr) continue;
    for (const auto& p : store.runner->LastProgress().partitions) {
      const metrics::Labels labels = {{"store", store.name},
                                      {"partition", absl::StrCat(p.partition)}};
      applied.Add(labels).Set(static_cast<double>(p.applied));
      end.Add(labels).Set(static_cast<double>(p.end));
      lag.Add(labels).Set(static_cast<double>(p.lag));
      lag_seconds.Add(labels).Set(absl::ToDoubleSeconds(p.lag_time));
    }
    for (const auto& f : store.runner->Stats()) {
      const metrics::Labels labels = {{"store", store.name}, {"fold", f.name}};
      unknown.Add(labels).Set(static_cast<double>(f.unknown_records));
      refolding.Add(labels).Set(f.refolding ? 1 : 0);
      for (const auto& [partition, count] : f.dead_letters_by_partition) {
        dead.Add({{"store", store.name}, {"fold", f.name}, {"partition", absl::StrCat(partition)}})
            .Set(static_cast<double>(count));
      }
    }
  }
  ready.Set(NotReadyReason().empty() ? 1 : 0);
}

}  // namespace crm::runtime
