#include "services/interaction/interaction_kind.h"

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"
#include "domain/interaction/interaction_aggregate.h"
#include "services/access/holders.h"
#include "services/command/deadline_watcher.h"

namespace crm::services::interaction {
namespace {

using crm::v1::Interaction;

// The due time of a follow-up still to remind of: set, not complete, not reminded.
std::optional<absl::Time> ToRemind(const Interaction& i) {
  if (!i.has_follow_up_due_time() || i.has_follow_up_complete_time() || i.follow_up_reminded()) {
    return std::nullopt;
  }
  return base::ToTime(i.follow_up_due_time());
}

absl::Status Index(absl::string_view aggregate, const Interaction* before, const Interaction& after,
                   const command::Event& event, kv::KvBatch& batch) {
  const std::optional<absl::Time> old_due = before == nullptr ? std::nullopt : ToRemind(*before);
  const std::optional<absl::Time> new_due = ToRemind(after);
  if (old_due == new_due) return absl::OkStatus();
  if (old_due.has_value()) batch.Delete(FollowUpKey(*old_due, aggregate));
  if (new_due.has_value()) batch.Put(FollowUpKey(*new_due, aggregate), "");
  return absl::OkStatus();
}

}  // namespace

const command::TypedKind<Interaction>& InteractionKind() {
  static auto* kind = new command::TypedKind<Interaction>(
      [](const command::Event& event) { return domain::interaction::IsInteractionEvent(event); },
      [](Interaction& state, const command::Event& event) {
        return domain::interaction::Apply(state, event);
      },
      &Index);
  kind->Guard([](const Interaction& row) { return access::HoldersOf(row); });
  return *kind;
}

std::string FollowUpKey(absl::Time due, absl::string_view interaction) {
  return command::DeadlineIndexKey(kFollowUpPrefix, due, interaction);
}

absl::StatusOr<FollowUpEntry> ParseFollowUpKey(absl::string_view key) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("follow-up index entry \"", key, "\": ", why));
  };
  absl::string_view rest;
  if (!command::DeadlineIndexRest(key, kFollowUpPrefix, &rest)) return bad("malformed key");
  int64_t micros = 0;
  if (!absl::SimpleAtoi(key.substr(kFollowUpPrefix.size(), 20), &micros)) {
    return bad("malformed time");
  }
  auto parts = domain::interaction::ParseInteractionName(rest, "key");
  if (!parts.ok()) return bad("malformed interaction name");
  return FollowUpEntry{std::string(rest), parts->customer_id, absl::FromUnixMicros(micros)};
}

}  // namespace crm::services::interaction
