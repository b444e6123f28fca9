#include "common/fold/fold_runner.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "common/log/log.h"
#include "spdlog/spdlog.h"

namespace crm::fold {
namespace {

// Short enough that Stop is responsive even with a log whose reader ignores
// Close.
constexpr absl::Duration kPollInterval = absl::Milliseconds(200);
constexpr absl::Duration kMinBackoff = absl::Milliseconds(10);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);
// CatchUp runs before the process serves; a persistent error there fails
// start-up instead of hanging it.
constexpr int kCatchUpAttempts = 8;

std::string PositionPrefix() { return absl::StrCat(FoldRunner::kReservedPrefix, "pos/"); }

std::string PositionKey(int32_t partition) { return absl::StrCat(PositionPrefix(), partition); }

// Zero-padded so that dead letters list in (partition, offset) order.
std::string DeadLetterKey(const eventlog::LogPosition& position) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%010d/%020" PRId64, position.partition, position.offset);
  return absl::StrCat(FoldRunner::kReservedPrefix, "dead/", buf);
}

// The error message, a NUL byte, then the raw record value.
std::string DeadLetterValue(const absl::Status& error, const eventlog::LogRecord& record) {
  return absl::StrCat(error.message(), absl::string_view("\0", 1), record.value);
}

}  // namespace

FoldRunner::FoldRunner(eventlog::EventLog* log, kv::KvStore* store, Fold* fold, Options options)
    : log_(log), store_(store), fold_(fold), options_(std::move(options)) {}

FoldRunner::~FoldRunner() { Stop(); }

absl::Status FoldRunner::LoadPositions() {
  eventlog::PositionMap loaded;
  const int32_t partitions = log_->PartitionCount();
  for (int32_t p = 0; p < partitions; ++p) loaded[p] = -1;
  const std::string prefix = PositionPrefix();
  absl::Status parse_status;
  CRM_RETURN_IF_ERROR(
      store_->ScanPrefix(prefix, "", 0, [&](absl::string_view key, absl::string_view value) {
        int32_t partition;
        int64_t offset;
        key.remove_prefix(prefix.size());
        if (!absl::SimpleAtoi(key, &partition) || !absl::SimpleAtoi(value, &offset)) {
          parse_status = absl::DataLossError(
              absl::StrCat("fold ", options_.name, ": malformed position entry for '", key, "'"));
          return false;
        }
        loaded[partition] = offset;
        return true;
      }));
  CRM_RETURN_IF_ERROR(parse_status);
  absl::MutexLock lock(&mu_);
  applied_ = std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<size_t> FoldRunner::ApplyOnce(eventlog::LogReader& reader, absl::Time deadline) {
  // Records polled but not yet written (the previous attempt failed) are
  // retried first: the reader has moved past them.
  if (pending_.empty()) {
    CRM_ASSIGN_OR_RETURN(pending_, reader.Poll(options_.max_batch, deadline));
    if (pending_.empty()) {
      absl::MutexLock lock(&mu_);
      for (const auto& [partition, offset] : reader.PassedOffsets()) {
        auto it = applied_.find(partition);
        if (it != applied_.end()) it->second = std::max(it->second, offset);
      }
      return 0;
    }
  }
  eventlog::PositionMap applied = Applied();
  eventlog::PositionMap batch_positions;
  std::vector<std::pair<const eventlog::LogRecord*, std::string>> dead;
  kv::KvBatch batch = store_->NewBatch();
  for (const eventlog::LogRecord& record : pending_) {
    const eventlog::LogPosition& pos = record.position;
    auto it = applied.find(pos.partition);
    if (it != applied.end() && pos.offset <= it->second) continue;  // Already applied.
    absl::Status status = fold_->Apply(record, batch);
    if (absl::IsDataLoss(status)) {
      batch.Put(DeadLetterKey(pos), DeadLetterValue(status, record));
      dead.emplace_back(&record, std::string(status.message()));
    } else if (!status.ok()) {
      return status;  // The batch is discarded; pending_ is retried.
    }
    applied[pos.partition] = pos.offset;
    batch_positions[pos.partition] = pos.offset;
  }
  for (const auto& [partition, offset] : batch_positions) {
    batch.Put(PositionKey(partition), absl::StrCat(offset));
  }
  if (!batch_positions.empty()) CRM_RETURN_IF_ERROR(store_->Write(batch));

  for (const auto& [record, message] : dead) {
    spdlog::error("fold {}: dead letter: topic {} partition {} offset {}: {}", options_.name,
                  record->topic.empty() ? "(embedded log)" : record->topic,
                  record->position.partition, record->position.offset, message);
  }
  const size_t count = pending_.size();
  pending_.clear();
  dead_letters_ += static_cast<int64_t>(dead.size());
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [partition, offset] : batch_positions) {
      int64_t& last = applied_[partition];
      last = std::max(last, offset);
    }
    // Offsets without records (transaction markers) that the reader moved past count as
    // applied, so that waiting for a partition's end terminates. They need not be stored: after
    // a restart the reader skips them again.
    for (const auto& [partition, offset] : reader.PassedOffsets()) {
      auto it = applied_.find(partition);
      if (it != applied_.end()) it->second = std::max(it->second, offset);
    }
  }
  NotifyWaiters();
  return count;
}

absl::Status FoldRunner::Start() {
  if (thread_.joinable()) {
    return absl::FailedPreconditionError(absl::StrCat("fold ", options_.name, ": already started"));
  }
  CRM_RETURN_IF_ERROR(LoadPositions());
  std::map<int32_t, int64_t> start;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
    for (const auto& [partition, offset] : applied_) start[partition] = offset + 1;
  }
  pending_.clear();
  CRM_ASSIGN_OR_RETURN(reader_, log_->NewReader(start));
  thread_ = std::thread(&FoldRunner::Run, this);
  return absl::OkStatus();
}

void FoldRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (reader_ != nullptr) reader_->Close();
  if (thread_.joinable()) thread_.join();
  reader_.reset();
  NotifyWaiters();  // all fail: stopping
}

void FoldRunner::Run() {
  absl::Duration backoff = kMinBackoff;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::StatusOr<size_t> applied = ApplyOnce(*reader_, absl::Now() + kPollInterval);
    NotifyWaiters();  // deadlines
    if (applied.ok()) {
      backoff = kMinBackoff;
      continue;
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    spdlog::warn("fold {}: {} (retrying in {})", options_.name, applied.status().ToString(),
                 absl::FormatDuration(backoff));
    // Waits out the backoff, but wakes at once on Stop.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

absl::Status FoldRunner::CatchUp() {
  if (thread_.joinable()) {
    return absl::FailedPreconditionError(absl::StrCat("fold ", options_.name, ": already started"));
  }
  CRM_RETURN_IF_ERROR(LoadPositions());
  // Target: the log's end as of now.
  std::map<int32_t, int64_t> target;  // partition -> last offset to apply
  std::map<int32_t, int64_t> start;
  {
    eventlog::PositionMap applied = Applied();
    for (const auto& [partition, offset] : applied) {
      CRM_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(partition));
      if (offset < end - 1) {
        target[partition] = end - 1;
        start[partition] = offset + 1;
      }
    }
  }
  if (target.empty()) return absl::OkStatus();
  pending_.clear();
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<eventlog::LogReader> reader, log_->NewReader(start));
  auto done = [&] {
    eventlog::PositionMap applied = Applied();
    return std::all_of(target.begin(), target.end(),
                       [&](const auto& t) { return applied[t.first] >= t.second; });
  };
  int failures = 0;
  absl::Duration backoff = kMinBackoff;
  while (!done()) {
    absl::StatusOr<size_t> applied = ApplyOnce(*reader, absl::Now() + kPollInterval);
    if (applied.ok()) {
      failures = 0;
      backoff = kMinBackoff;
      continue;
    }
    if (++failures >= kCatchUpAttempts) {
      pending_.clear();
      return applied.status();
    }
    spdlog::warn("fold {}: catch-up: {} (retrying in {})", options_.name,
                 applied.status().ToString(), absl::FormatDuration(backoff));
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  pending_.clear();
  return absl::OkStatus();
}

absl::Status FoldRunner::CheckPartitions(const eventlog::PositionMap& positions) const {
  const int32_t partitions = log_->PartitionCount();
  for (const auto& [partition, offset] : positions) {
    if (partition < 0 || partition >= partitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("fold ", options_.name, ": no partition ", partition));
    }
  }
  return absl::OkStatus();
}

bool FoldRunner::Reached(const eventlog::PositionMap& positions) const {
  for (const auto& [partition, offset] : positions) {
    auto it = applied_.find(partition);
    if (it == applied_.end() || it->second < offset) return false;
  }
  return true;
}

absl::Status FoldRunner::WaitFor(const eventlog::PositionMap& positions, absl::Time deadline) {
  CRM_RETURN_IF_ERROR(CheckPartitions(positions));
  auto reached_or_stopping = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || Reached(positions);
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&reached_or_stopping), deadline);
  if (Reached(positions)) return absl::OkStatus();
  if (stopping_) {
    return absl::UnavailableError(absl::StrCat("fold ", options_.name, ": stopped"));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("fold ", options_.name, ": positions not applied before the deadline"));
}

base::Future<base::Done> FoldRunner::WhenApplied(const eventlog::PositionMap& positions,
                                                 absl::Time deadline) {
  CRM_RETURN_IF_ERROR(CheckPartitions(positions));
  base::Promise<base::Done> promise;
  base::Future<base::Done> future = promise.future();
  {
    absl::MutexLock lock(&mu_);
    if (!Reached(positions)) {
      if (stopping_) {
        return absl::UnavailableError(absl::StrCat("fold ", options_.name, ": stopped"));
      }
      waiters_.push_back(Waiter{positions, deadline, std::move(promise)});
      return future;
    }
  }
  promise.Set(base::Done{});
  return future;
}

void FoldRunner::NotifyWaiters() {
  std::vector<std::pair<base::Promise<base::Done>, absl::Status>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (waiters_.empty()) return;
    const absl::Time now = absl::Now();
    std::vector<Waiter> still;
    for (Waiter& w : waiters_) {
      if (Reached(w.positions)) {
        ready.emplace_back(std::move(w.promise), absl::OkStatus());
      } else if (stopping_) {
        ready.emplace_back(std::move(w.promise), absl::UnavailableError(absl::StrCat(
                                                     "fold ", options_.name, ": stopped")));
      } else if (now >= w.deadline) {
        ready.emplace_back(
            std::move(w.promise),
            absl::DeadlineExceededError(absl::StrCat(
                "fold ", options_.name, ": positions not applied before the deadline")));
      } else {
        still.push_back(std::move(w));
      }
    }
    waiters_ = std::move(still);
  }
  for (auto& [promise, status] : ready) {
    if (status.ok()) {
      promise.Set(base::Done{});
    } else {
      promise.Set(status);
    }
  }
}

eventlog::PositionMap FoldRunner::Applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

}  // namespace crm::fold
