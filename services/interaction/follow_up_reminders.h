// FollowUpReminders: the reminders that an interaction's follow-up comes due, as a source of the
// server's deadline watcher (services/command/deadline_watcher.h). The follow-up index
// (interaction_kind.h) is read up to now + `lead`; each entry gets the RemindFollowUp command
// through the handler (FollowUpDueSoon, which notifications turn into a reminder to the
// interaction's staff member), with a request id derived from the interaction and the due time.
// The rule records nothing for a follow-up that is complete, reminded or past its due time, so
// running it again (another scan, another replica, a restart) adds nothing.
//
// Thread-safe: immutable.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/command/deadline_watcher.h"
#include "services/interaction/interaction_command_handler.h"

namespace crm::services::interaction {

class FollowUpReminders final : public command::DeadlineSource {
 public:
  // Does not take ownership. REQUIRES lead > 0.
  FollowUpReminders(InteractionCommandHandler* handler, absl::Duration lead)
      : handler_(handler), lead_(lead) {}

  absl::string_view prefix() const override;
  absl::StatusOr<Due> Parse(absl::string_view key, absl::string_view value) const override;
  absl::Duration lead() const override { return lead_; }

  // The request id of the RemindFollowUp of one follow-up: a UUID derived from the interaction
  // and the due time (microseconds).
  static std::string RequestIdFor(absl::string_view interaction, absl::Time due);

 private:
  InteractionCommandHandler* const handler_;
  const absl::Duration lead_;
};

}  // namespace crm::services::interaction
