// SegmentFold: folds customer events into the segment figures (layout in
// readmodel/segment/segment_keys.h, definitions in docs/analytics.md): each customer's value
// (tier, tier changes, lifetime value per currency, last purchase) and lifecycle stage, the
// segment sizes, and every lifecycle move keyed by its time for the funnel.
//
// Keeps each customer as the domain's Apply folds it (the one reading of a customer event, as the
// command side and the customer view apply it) and writes what each event changed in it: the
// registration, a lifecycle move, a tier change, the lifetime value. Idempotent: the kept
// customer has its version and an event at or below it is skipped. Deterministic: a rebuild from
// zero writes the same bytes. An undecodable record is DATA_LOSS. Writes only keys under "sg/".
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
  // (common/fold/fold_runner.h). 1: the first versioned layout. 2: the customer's state is the
  // domain's (domain::customer::Apply).
  static constexpr int64_t kVersion = 2;

  std::string name() const override { return std::string(readmodel::segment::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::segment::kSegmentPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::segment
