// CustomerViewFold: folds customer events into the customer views (layout in
// readmodel/customer/view_keys.h): the customer record, its secondary indexes, its search indexes
// and its history. Index entries a change removes are deleted in the same batch that adds the new
// ones, the record and the position.
//
// Idempotent: an event whose aggregate_version the view already has is skipped, so redelivery
// (at-least-once transports) changes nothing. A gap in a customer's versions or an undecodable
// record is DATA_LOSS (the runner dead-letters it). Deterministic: the views depend only on the
// events, so a rebuild from position zero reproduces them byte for byte.
// Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include <iterator>
#include <string>
#include <vector>

#include "common/fold/fold_runner.h"
#include "readmodel/customer/view_keys.h"

namespace crm::projections::customer {

class CustomerViewFold final : public fold::Fold {
 public:
  // Bump when the keys this fold writes for the same events change; the runner then refolds it
  // (common/fold/fold_runner.h). 1: the first versioned layout. 2: the search indexes (s/).
  // 3: the external id index (x/extid). 4: social ids and contact persons' e-mails and phones
  // (x/social, x/cemail, x/cphone).
  static constexpr int64_t kVersion = 4;

  std::string name() const override { return std::string(readmodel::customer::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return std::vector<std::string>(std::begin(readmodel::customer::kFoldPrefixes),
                                    std::end(readmodel::customer::kFoldPrefixes));
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::customer
