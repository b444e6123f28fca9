// CustomerViewFold: folds customer events into the customer views (layout in
// readmodel/customer/view_keys.h): the customer record, its secondary indexes and its history.
//
// Idempotent: an event whose aggregate_version the view already has is skipped, so redelivery
// (at-least-once transports) changes nothing. A gap in a customer's versions or an undecodable
// record is DATA_LOSS (the runner dead-letters it). Deterministic: the views depend only on the
// events, so a rebuild from position zero reproduces them byte for byte.
// Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include "common/fold/fold_runner.h"

namespace crm::projections::customer {

class CustomerViewFold final : public fold::Fold {
 public:
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::customer
