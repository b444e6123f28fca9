// SegmentFold: folds customer events into the segment figures (layout in
// readmodel/segment/segment_keys.h, definitions in docs/analytics.md): each customer's value
// (tier, tier changes, lifetime value per currency, last purchase) and lifecycle stage, the
// segment sizes, and every lifecycle move keyed by its time for the funnel.
//
// Reads CustomerRegistered, LifecycleStageChanged and PurchaseRecorded; ignores every other
// event. Idempotent: each customer's record keeps the last applied aggregate_version and an event
// at or below it is skipped. Deterministic: a rebuild from zero writes the same bytes. An
// undecodable record is DATA_LOSS. Writes only keys under "sg/".
// Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include <iterator>
#include <string>
#include <vector>

#include "common/fold/fold_runner.h"
#include "readmodel/segment/segment_keys.h"

namespace crm::projections::segment {

class SegmentFold final : public fold::Fold {
 public:
  // Bump when the keys this fold writes for the same events change; the runner then refolds it
  // (common/fold/fold_runner.h). 1: the first versioned layout.
  static constexpr int64_t kVersion = 1;

  std::string name() const override { return std::string(readmodel::segment::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::segment::kSegmentPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::segment
