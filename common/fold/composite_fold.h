// CompositeFold: several folds run as one, over one store and one position.
//
// Why: every read model of a process is folded from the same log. Running them as one fold keeps
// a single consumed position in the same batch as all their writes, so the views are always
// mutually consistent (a query joining two views never sees one ahead of the other).
//
// Each record goes to every fold, in order. If a fold rejects a record as undecodable
// (DATA_LOSS), the others still apply it and the first such error is returned once all have run,
// so the runner records the dead letter. Any other error stops at once (the batch is discarded).
// The folds must write disjoint key prefixes. Thread-safe as the folds are (the runner calls
// Apply from one thread).
#pragma once

#include <utility>
#include <vector>

#include "common/fold/fold_runner.h"

namespace crm::fold {

class CompositeFold final : public Fold {
 public:
  // Does not take ownership.
  explicit CompositeFold(std::vector<Fold*> folds) : folds_(std::move(folds)) {}

  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override {
    absl::Status data_loss;
    for (Fold* fold : folds_) {
      absl::Status status = fold->Apply(record, batch);
      if (absl::IsDataLoss(status)) {
        if (data_loss.ok()) data_loss = status;
      } else if (!status.ok()) {
        return status;
      }
    }
    return data_loss;
  }

 private:
  std::vector<Fold*> folds_;
};

}  // namespace crm::fold
