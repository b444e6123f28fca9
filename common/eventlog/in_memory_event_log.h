// InMemoryEventLog: a fake EventLog for unit tests, with the semantics of the
// real ones (per-key order, dense offsets from 0 per partition, contiguous
// visibility, blocking readers) and nothing durable.
//
// A key's partition is FNV-1a(key) modulo the partition count, stable across
// platforms and runs.
//
// Thread-safe. REQUIRES: every LogReader is destroyed before the log.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"

namespace crm::eventlog {

// The partition of `key` among `partitions`: FNV-1a (64-bit) of the key modulo
// `partitions`. REQUIRES: partitions > 0.
int32_t PartitionForKey(absl::string_view key, int32_t partitions);

class InMemoryEventLog final : public EventLog {
 public:
  static constexpr size_t kMaxValueBytes = 1 << 20;

  // REQUIRES: partitions > 0.
  explicit InMemoryEventLog(int32_t partitions = 1);
  ~InMemoryEventLog() override;

  int32_t PartitionCount() const override { return partitions_; }
  int32_t PartitionOf(absl::string_view key) const override {
    return PartitionForKey(key, partitions_);
  }
  absl::StatusOr<LogPosition> Append(absl::string_view key, std::vector<AppendValue> values,
                                     absl::Time deadline) override;
  absl::StatusOr<std::unique_ptr<LogReader>> NewReader(
      const std::map<int32_t, int64_t>& start) override;
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override;

 private:
  class Reader;

  const int32_t partitions_;
  mutable absl::Mutex mu_;
  std::vector<std::vector<LogRecord>> records_ ABSL_GUARDED_BY(mu_);  // Per partition.
  absl::CondVar appended_cv_;  // Signalled on append and on a reader's Close.
};

}  // namespace crm::eventlog
