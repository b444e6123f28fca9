#include "services/interaction/follow_up_reminders.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/uuid.h"
#include "services/interaction/interaction_kind.h"

namespace crm::services::interaction {

absl::string_view FollowUpReminders::prefix() const { return kFollowUpPrefix; }

std::string FollowUpReminders::RequestIdFor(absl::string_view interaction, absl::Time due) {
  return base::UuidFromName(
      absl::StrCat("crm.RemindFollowUp/", interaction, "/", absl::ToUnixMicros(due)));
}

absl::StatusOr<command::DeadlineSource::Due> FollowUpReminders::Parse(absl::string_view key,
                                                                      absl::string_view) const {
  absl::StatusOr<FollowUpEntry> entry = ParseFollowUpKey(key);
  if (!entry.ok()) return entry.status();
  Due due;
  due.stream_key = entry->customer_id;
  due.what = absl::StrCat("follow-up of ", entry->interaction);
  due.act = [handler = handler_, lead = lead_, entry = *std::move(entry)](
                const rpc::CallContext& call) -> absl::StatusOr<std::string> {
    absl::StatusOr<InteractionCommandHandler::Response> reminded =
        handler
            ->RemindFollowUp(entry.interaction, entry.due, lead,
                             RequestIdFor(entry.interaction, entry.due), call)
            .Get();
    if (!reminded.ok()) return reminded.status();
    return reminded->appended_event_count() == 0 ? std::string() : std::string("reminded");
  };
  return due;
}

}  // namespace crm::services::interaction
