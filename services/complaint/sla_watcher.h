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

// SlaReminders: the same deadline index read up to now + `lead`, so that a deadline that comes due
// within the lead and is not yet reminded gets the RemindSla command through the handler
// (ComplaintDeadlineApproaching, which notifications turn into a reminder to the assignee), with
// a request id derived from the complaint, the kind and the due time. Entries already reminded
// are skipped; the rule records nothing for a deadline met, breached, replaced or passed.
class SlaReminders final : public command::DeadlineSource {
 public:
  // Does not take ownership. REQUIRES lead > 0.
  SlaReminders(ComplaintCommandHandler* handler, absl::Duration lead)
      : handler_(handler), lead_(lead) {}

  absl::string_view prefix() const override;
  absl::StatusOr<Due> Parse(absl::string_view key, absl::string_view value) const override;
  absl::Duration lead() const override { return lead_; }

  static std::string RequestIdFor(absl::string_view complaint, crm::v1::SlaKind kind,
                                  absl::Time due);

 private:
  ComplaintCommandHandler* const handler_;
  const absl::Duration lead_;
};

}  // namespace crm::services::complaint
