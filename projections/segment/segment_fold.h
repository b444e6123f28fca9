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

#include "common/fold/fold_runner.h"

namespace crm::projections::segment {

class SegmentFold final : public fold::Fold {
 public:
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::segment
