// How the command side folds interactions: the AggregateKind of crm.v1.Interaction (its events and
// the domain's Apply) and the follow-up reminder index the deadline watcher scans
// (services/command/deadline_watcher.h, FollowUpReminders in follow_up_reminders.h):
//   follow-up-due/<due time: 20-digit unix microseconds>/<interaction name> -> ""
// holding the due time of every follow-up that is neither complete nor reminded yet, written in
// the same batch as the interaction's state.
//
// Thread-safe: immutable.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/interaction.pb.h"
#include "services/command/aggregate_state.h"

namespace crm::services::interaction {

inline constexpr absl::string_view kFollowUpPrefix = "follow-up-due/";

// The kind to register with command::AggregateStateFold and to pass to CommandExecutor::Execute.
const command::TypedKind<crm::v1::Interaction>& InteractionKind();

// The index key of a follow-up's due time.
std::string FollowUpKey(absl::Time due, absl::string_view interaction);

struct FollowUpEntry {
  std::string interaction;  // "customers/{cid}/interactions/{id}"
  std::string customer_id;  // the stream key
  absl::Time due;           // to the microsecond
};
// DATA_LOSS if the key is malformed.
absl::StatusOr<FollowUpEntry> ParseFollowUpKey(absl::string_view key);

}  // namespace crm::services::interaction
