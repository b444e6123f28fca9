// ForwardingEventLog: for tests, an EventLog that passes every call to an InMemoryEventLog, so a
// test log overrides only what it changes (an append that fails, an append held back).
// Thread-safe as the in-memory log is.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "common/eventlog/in_memory_event_log.h"

namespace crm::eventlog::testing {

class ForwardingEventLog : public EventLog {
 public:
  explicit ForwardingEventLog(int32_t partitions = 1) : log_(partitions) {}
  int32_t PartitionCount() const override { return log_.PartitionCount(); }
  int32_t PartitionOf(absl::string_view key) const override { return log_.PartitionOf(key); }
  absl::StatusOr<LogPosition> Append(absl::string_view key, std::vector<AppendValue> values,
                                     absl::Time deadline) override {
    return log_.Append(key, std::move(values), deadline);
  }
  absl::StatusOr<std::unique_ptr<LogReader>> NewReader(
      const std::map<int32_t, int64_t>& start) override {
    return log_.NewReader(start);
  }
  absl::StatusOr<int64_t> EndOffset(int32_t partition) override {
    return log_.EndOffset(partition);
  }

 private:
  InMemoryEventLog log_;
};

}  // namespace crm::eventlog::testing
