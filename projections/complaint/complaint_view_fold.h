// ComplaintViewFold: folds complaint events (crm.events.v1.Complaint*) into the complaint views
// (layout in readmodel/complaint/view_keys.h, all keys under "cp/"): the complaint record, its
// history, the list indexes (status, assignee, category, severity), the open deadlines by due
// time and the breached-and-unresolved set that overdue queries read.
//
// The record is the complaint as domain/complaint's Apply makes it from the events: the same one
// reading of each event the command side decides on (so a command's answer and the view agree
// field by field). The fold adds only its own keys on top: history, indexes, deadlines.
//
// Idempotent: an event whose aggregate_version the record already has is skipped, so redelivery
// changes nothing. Any other event is DATA_LOSS (the runner dead-letters it) if it cannot be
// decoded, has no complaint name, or does not follow the record's version by exactly one.
// Events of other kinds are ignored (no write). Deterministic: the views depend only on the
// events, so a rebuild from position zero reproduces them byte for byte.
// Thread-safe: stateless; the FoldRunner calls it from one thread.
#pragma once

#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/fold/fold_runner.h"
#include "readmodel/complaint/view_keys.h"

namespace crm::projections::complaint {

class ComplaintViewFold final : public fold::Fold {
 public:
  // Bump when the keys this fold writes for the same events change; the runner then refolds it
  // (common/fold/fold_runner.h). 1: the first versioned layout.
  static constexpr int64_t kVersion = 1;

  std::string name() const override { return std::string(readmodel::complaint::kFoldName); }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override {
    return {std::string(readmodel::complaint::kPrefix)};
  }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

}  // namespace crm::projections::complaint
