// SlaDeadlines: the complaint SLA deadlines as a source of the server's deadline watcher
// (services/command/deadline_watcher.h). A due response or resolution deadline of the complaint
// deadline index (complaint_kind.h) gets the BreachSla command through the handler, with a
// request id derived from the complaint, the kind and the due time: ComplaintSlaBreached and the
// automatic ComplaintEscalated.
//
// The rule records nothing for a deadline that is met, already breached, replaced by a reopening
// or not yet passed. A deadline met late (step done after the due time, before a scan came round)
// gets its breach recorded by that step (domain/complaint), so no missed deadline goes unrecorded.
//
// Thread-safe: immutable.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/complaint.pb.h"
#include "services/command/deadline_watcher.h"
#include "services/complaint/complaint_command_handler.h"

namespace crm::services::complaint {

class SlaDeadlines final : public command::DeadlineSource {
 public:
  // Does not take ownership.
  explicit SlaDeadlines(ComplaintCommandHandler* handler) : handler_(handler) {}

  absl::string_view prefix() const override;
  absl::StatusOr<Due> Parse(absl::string_view key, absl::string_view value) const override;

  // The request id of the BreachSla of one deadline: a UUID derived from the complaint, the kind
  // and the due time (microseconds), the same on every replica and after every restart.
  static std::string RequestIdFor(absl::string_view complaint, crm::v1::SlaKind kind,
                                  absl::Time due);

 private:
  ComplaintCommandHandler* const handler_;
};

}  // namespace crm::services::complaint
