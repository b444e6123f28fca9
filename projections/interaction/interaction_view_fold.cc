#include "projections/interaction/interaction_view_fold.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/common/event_types.h"
#include "domain/interaction/interaction_aggregate.h"
#include "projections/interaction/timeline_entry.h"
#include "readmodel/interaction/view_keys.h"

namespace crm::projections::interaction {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Interaction;
namespace keys = readmodel::interaction;

bool HasOpenFollowUp(const Interaction& i) {
  return i.version() > 0 && i.has_follow_up_due_time() && !i.has_follow_up_complete_time();
}

// Updates the interaction record and its indexes. Returns false if the event was applied
// already (nothing written).
absl::StatusOr<bool> ApplyInteraction(const EventEnvelope& event, kv::KvBatch& batch) {
  const std::string key = keys::InteractionKey(event.aggregate());
  Interaction before;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  if (stored.has_value() && !before.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("view of ", event.aggregate(), " cannot be decoded"));
  }
  if (event.aggregate_version() <= before.version()) return false;  // seen already

  Interaction after = before;
  absl::Status applied = domain::interaction::Apply(after, event);
  if (!applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                            " cannot be applied: ", applied.message()));
  }
  absl::StatusOr<domain::interaction::ChildName> parsed =
      domain::interaction::ParseInteractionName(after.name(), "aggregate");
  if (!parsed.ok()) return absl::DataLossError(parsed.status().message());

  if (before.version() == 0) {
    batch.Put(keys::CustomerInteractionKey(parsed->customer_id, after.occurred_at(), parsed->id),
              "");
  }
  // The follow-up index: staff_id and due time never change once logged, so the key is stable.
  const bool was_open = HasOpenFollowUp(before);
  const bool is_open = HasOpenFollowUp(after);
  if (was_open && !is_open) {
    batch.Delete(keys::FollowUpKey(before.staff_id(), before.follow_up_due_time(), before.name()));
  } else if (!was_open && is_open) {
    batch.Put(keys::FollowUpKey(after.staff_id(), after.follow_up_due_time(), after.name()), "");
  }
  batch.Put(key, base::SerializeDeterministic(after));
  return true;
}

}  // namespace

absl::Status InteractionViewFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  if (domain::interaction::IsInteractionEvent(event)) {
    CRM_ASSIGN_OR_RETURN(bool applied, ApplyInteraction(event, batch));
    if (!applied) return absl::OkStatus();
  }
  std::optional<crm::v1::TimelineEntry> entry = TimelineEntryFor(event);
  if (!entry.has_value()) return absl::OkStatus();  // not an event these views use
  // Every stamped event has an id; the fallback keeps entries of (hypothetical) id-less events
  // apart all the same.
  const std::string entry_id = event.event_id().empty() ? absl::StrCat("~", event.aggregate(), "@",
                                                                       event.aggregate_version())
                                                        : event.event_id();
  batch.Put(keys::TimelineKey(event.customer_id(), entry->time(), entry_id),
            base::SerializeDeterministic(*entry));
  return absl::OkStatus();
}

}  // namespace crm::projections::interaction
