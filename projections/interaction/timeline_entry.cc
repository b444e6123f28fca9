#include "projections/interaction/timeline_entry.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace crm::projections::interaction {

using crm::events::v1::EventEnvelope;
using crm::v1::TimelineEntry;

std::optional<TimelineEntry> TimelineEntryFor(const EventEnvelope& event) {
  if (event.customer_id().empty()) return std::nullopt;
  TimelineEntry entry;
  const std::string customer = absl::StrCat("customers/", event.customer_id());
  switch (event.payload_case()) {
    case EventEnvelope::kInteractionLogged:
      entry.set_kind(crm::v1::TIMELINE_INTERACTION);
      entry.set_resource(event.aggregate());
      break;
    case EventEnvelope::kFollowUpCompleted:
      entry.set_kind(crm::v1::TIMELINE_FOLLOW_UP);
      entry.set_resource(event.aggregate());
      break;
    case EventEnvelope::kComplaintFiled:
    case EventEnvelope::kComplaintAcknowledged:
    case EventEnvelope::kComplaintAssigned:
    case EventEnvelope::kComplaintInvestigationStarted:
    case EventEnvelope::kComplaintResolved:
    case EventEnvelope::kComplaintFollowUpVisitRecorded:
    case EventEnvelope::kComplaintClosed:
    case EventEnvelope::kComplaintReopened:
    case EventEnvelope::kComplaintEscalated:
    case EventEnvelope::kComplaintSlaBreached:
      entry.set_kind(crm::v1::TIMELINE_COMPLAINT);
      entry.set_resource(event.aggregate());
      break;
    case EventEnvelope::kCustomerRegistered:
    case EventEnvelope::kCustomerProfileUpdated:
    case EventEnvelope::kLifecycleStageChanged:
    case EventEnvelope::kOwnerAssigned:
    case EventEnvelope::kOwnerUnassigned:
    case EventEnvelope::kCustomerArchived:
    case EventEnvelope::kCustomerUnarchived:
      entry.set_kind(crm::v1::TIMELINE_PROFILE);
      entry.set_resource(customer);
      break;
    case EventEnvelope::kCustomerMerged:  // links the merged customer's timeline
      entry.set_kind(crm::v1::TIMELINE_PROFILE);
      entry.set_resource(absl::StrCat("customers/", event.customer_merged().merged_customer_id()));
      break;
    case EventEnvelope::kCustomerMergedInto:  // links the survivor's timeline
      entry.set_kind(crm::v1::TIMELINE_PROFILE);
      entry.set_resource(absl::StrCat("customers/", event.customer_merged_into().survivor_id()));
      break;
    case EventEnvelope::kPurchaseRecorded:
    case EventEnvelope::kPurchaseRefunded:
      entry.set_kind(crm::v1::TIMELINE_PURCHASE);
      entry.set_resource(customer);
      break;
    case EventEnvelope::kSurveySent:
    case EventEnvelope::kSurveyAnswered:
    case EventEnvelope::kSurveyExpired:
      entry.set_kind(crm::v1::TIMELINE_SURVEY);
      entry.set_resource(event.aggregate());
      break;
    default:
      return std::nullopt;
  }
  *entry.mutable_time() = event.has_occurred_at() ? event.occurred_at() : event.recorded_at();
  *entry.mutable_event() = event;
  return entry;
}

}  // namespace crm::projections::interaction
