// Metrics of the log's writes, the same for every engine: one write is one group commit (a Kafka
// transaction, or one synced RocksDB batch of the embedded log) holding the appends that queued
// together.
//   crm_log_write_seconds{engine}      histogram: how long the write took
//   crm_log_write_appends{engine}      histogram: appends (commands) per write
//   crm_log_write_records{engine}      histogram: records (events) per write
//   crm_log_writes_failed_total{engine}
// Thread-safe.
#pragma once

#include <cstddef>

#include "absl/time/time.h"
#include "common/metrics/metrics.h"

namespace crm::eventlog {

class WriteMetrics {
 public:
  // `engine`: "kafka" or "embedded".
  explicit WriteMetrics(const char* engine) {
    metrics::Registry& r = metrics::Registry::Default();
    const metrics::Labels labels = {{"engine", engine}};
    seconds_ =
        r.Histograms("crm_log_write_seconds", "Time a write (group commit) to the event log took.",
                     metrics::LatencyBuckets())
            .Add(labels);
    appends_ = r.Histograms("crm_log_write_appends", "Appends (commands) per event log write.",
                            metrics::SizeBuckets())
                   .Add(labels);
    records_ = r.Histograms("crm_log_write_records", "Records (events) per event log write.",
                            metrics::SizeBuckets())
                   .Add(labels);
    failed_ =
        r.Counters("crm_log_writes_failed_total", "Event log writes that failed.").Add(labels);
  }
  void Observe(absl::Duration took, size_t appends, size_t records, bool ok) const {
    seconds_.Observe(absl::ToDoubleSeconds(took));
    appends_.Observe(static_cast<double>(appends));
    records_.Observe(static_cast<double>(records));
    if (!ok) failed_.Increment();
  }

 private:
  metrics::Histogram seconds_;
  metrics::Histogram appends_;
  metrics::Histogram records_;
  metrics::Counter failed_;
};

}  // namespace crm::eventlog
