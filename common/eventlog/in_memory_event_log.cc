#include "common/eventlog/in_memory_event_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace crm::eventlog {

int32_t PartitionForKey(absl::string_view key, int32_t partitions) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis.
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;  // FNV prime.
  }
  return static_cast<int32_t>(hash % static_cast<uint64_t>(partitions));
}

class InMemoryEventLog::Reader final : public LogReader {
 public:
  Reader(InMemoryEventLog* log, std::map<int32_t, int64_t> cursors)
      : log_(log), cursors_(std::move(cursors)) {}

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records, absl::Time deadline) override {
    absl::MutexLock lock(&log_->mu_);
    while (!closed_ && !HasRecords()) {
      if (log_->appended_cv_.WaitWithDeadline(&log_->mu_, deadline)) break;  // Timed out.
    }
    if (closed_) return absl::CancelledError("event log reader closed");
    std::vector<LogRecord> out;
    if (cursors_.empty()) return out;
    // Start at a different partition each time so a busy partition cannot
    // starve the others.
    auto start = cursors_.begin();
    std::advance(start, static_cast<long>(rotation_++ % cursors_.size()));
    auto it = start;
    do {
      const std::vector<LogRecord>& partition = log_->records_[it->first];
      while (out.size() < max_records && it->second < static_cast<int64_t>(partition.size())) {
        out.push_back(partition[it->second++]);
      }
      if (++it == cursors_.end()) it = cursors_.begin();
    } while (it != start && out.size() < max_records);
    return out;
  }

  void Close() override {
    absl::MutexLock lock(&log_->mu_);
    closed_ = true;
    log_->appended_cv_.SignalAll();
  }

 private:
  bool HasRecords() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(log_->mu_) {
    for (const auto& [partition, next] : cursors_) {
      if (next < static_cast<int64_t>(log_->records_[partition].size())) return true;
    }
    return false;
  }

  InMemoryEventLog* const log_;
  std::map<int32_t, int64_t> cursors_;  // partition -> next offset to read.
  size_t rotation_ = 0;
  bool closed_ ABSL_GUARDED_BY(log_->mu_) = false;
};

InMemoryEventLog::InMemoryEventLog(int32_t partitions)
    : partitions_(partitions), records_(static_cast<size_t>(std::max(partitions, 1))) {}

InMemoryEventLog::~InMemoryEventLog() = default;

absl::StatusOr<LogPosition> InMemoryEventLog::Append(absl::string_view key,
                                                     std::vector<AppendValue> values,
                                                     absl::Time deadline) {
  if (values.empty()) return absl::InvalidArgumentError("event log append: no values");
  for (const AppendValue& v : values) {
    if (v.value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat("event log append: value of ", v.value.size(),
                                                     " bytes exceeds ", kMaxValueBytes));
    }
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError("event log append: deadline passed");
  }
  const int32_t partition = PartitionForKey(key, partitions_);
  absl::MutexLock lock(&mu_);
  std::vector<LogRecord>& records = records_[partition];
  for (AppendValue& v : values) {
    LogRecord record;
    record.position = {partition, static_cast<int64_t>(records.size())};
    record.key = std::string(key);
    record.value = std::move(v.value);
    record.headers = std::move(v.headers);
    records.push_back(std::move(record));
  }
  appended_cv_.SignalAll();
  return records.back().position;
}

absl::StatusOr<std::unique_ptr<LogReader>> InMemoryEventLog::NewReader(
    const std::map<int32_t, int64_t>& start) {
  for (const auto& [partition, offset] : start) {
    if (partition < 0 || partition >= partitions_) {
      return absl::InvalidArgumentError(absl::StrCat("event log reader: no partition ", partition));
    }
    if (offset < 0) {
      return absl::InvalidArgumentError(absl::StrCat("event log reader: negative offset ", offset));
    }
  }
  return std::unique_ptr<LogReader>(new Reader(this, start));
}

absl::StatusOr<int64_t> InMemoryEventLog::EndOffset(int32_t partition) {
  if (partition < 0 || partition >= partitions_) {
    return absl::InvalidArgumentError(absl::StrCat("event log: no partition ", partition));
  }
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(records_[partition].size());
}

}  // namespace crm::eventlog
