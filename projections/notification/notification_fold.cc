#include "projections/notification/notification_fold.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "common/base/uuid.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/common/event_types.h"
#include "domain/complaint/event_codec.h"

namespace crm::projections::notification {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Notification;
namespace views = readmodel::notification;

// The notifications one record yields, in the order they are keyed.
class Derived {
 public:
  explicit Derived(const EventEnvelope& event) : event_(event) {}

  // A notification of `reason` about `subject` to `staff_id` (ignored if empty or already told
  // of this event for this reason).
  Notification* Add(absl::string_view staff_id, crm::v1::NotificationReason reason,
                    absl::string_view subject) {
    if (staff_id.empty()) return nullptr;
    for (const auto& [to, n] : out_) {
      if (to == staff_id && n.reason() == reason) return nullptr;
    }
    Notification n;
    const std::string id = base::UuidFromName(
        absl::StrCat("notification\n", event_.event_id(), "\n", staff_id, "\n", reason));
    n.set_name(absl::StrCat("staff/", staff_id, "/notifications/", id));
    n.set_recipient(absl::StrCat("staff/", staff_id));
    n.set_reason(reason);
    n.set_subject(std::string(subject));
    n.set_event_id(event_.event_id());
    *n.mutable_create_time() = event_.occurred_at();
    n.set_actor(event_.actor());
    out_.emplace_back(std::string(staff_id), std::move(n));
    return &out_.back().second;
  }

  void Write(const eventlog::LogRecord& record, kv::KvBatch& batch) const {
    int32_t index = 0;
    for (const auto& [to, n] : out_) {
      const views::Position at{.offset = record.position.offset, .index = index++};
      batch.Put(views::NotificationKey(to, record.position.partition, at),
                base::SerializeDeterministic(n));
      batch.Put(views::OutboxKey(record.position.partition, at), to);
    }
  }

 private:
  const EventEnvelope& event_;
  std::vector<std::pair<std::string, Notification>> out_;
};

}  // namespace

absl::Status NotificationFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  Derived derived(event);
  const std::string customer = absl::StrCat("customers/", event.customer_id());
  switch (event.payload_case()) {
    case EventEnvelope::kOwnerAssigned:
      derived.Add(event.owner_assigned().owner(), crm::v1::OWNER_ASSIGNED, customer);
      break;
    case EventEnvelope::kComplaintAssigned:
      derived.Add(event.complaint_assigned().assignee().staff_id(), crm::v1::COMPLAINT_ASSIGNED,
                  event.aggregate());
      break;
    case EventEnvelope::kComplaintSlaBreached: {
      const auto& breach = event.complaint_sla_breached();
      if (Notification* n =
              derived.Add(breach.assignee().staff_id(), crm::v1::SLA_BREACHED, event.aggregate())) {
        n->set_sla_kind(domain::complaint::ToApi(breach.kind()));
      }
      break;
    }
    case EventEnvelope::kComplaintDeadlineApproaching: {
      const auto& approaching = event.complaint_deadline_approaching();
      if (Notification* n = derived.Add(approaching.assignee().staff_id(),
                                        crm::v1::COMPLAINT_DEADLINE_DUE, event.aggregate())) {
        n->set_sla_kind(domain::complaint::ToApi(approaching.kind()));
        *n->mutable_due_time() = approaching.due_time();
      }
      break;
    }
    case EventEnvelope::kFollowUpDueSoon: {
      const auto& soon = event.follow_up_due_soon();
      if (Notification* n =
              derived.Add(soon.staff_id(), crm::v1::FOLLOW_UP_DUE, event.aggregate())) {
        *n->mutable_due_time() = soon.follow_up_due_time();
      }
      break;
    }
    case EventEnvelope::kComplaintEscalated: {
      const auto& escalated = event.complaint_escalated();
      if (Notification* n =
              derived.Add(escalated.to().staff_id(), crm::v1::ESCALATED, event.aggregate())) {
        n->set_escalation_level(escalated.level());
        n->set_sla_kind(domain::complaint::ToApi(escalated.sla_kind()));
      }
      break;
    }
    case EventEnvelope::kSurveySent: {
      const auto& staff = event.survey_sent().staff();
      batch.Put(views::SurveySenderKey(event.aggregate()),
                absl::StrCat(staff.staff_id(), "\n", staff.team()));
      return absl::OkStatus();
    }
    case EventEnvelope::kSurveyAnswered: {
      const auto& answer = event.survey_answered();
      const bool low = (answer.has_csat() && answer.csat() <= options_.csat_max) ||
                       (answer.has_nps() && answer.nps() <= options_.nps_max);
      if (!low) return absl::OkStatus();
      CRM_ASSIGN_OR_RETURN(auto sender, batch.Get(views::SurveySenderKey(event.aggregate())));
      if (!sender.has_value()) return absl::OkStatus();  // its SurveySent was dead-lettered
      std::pair<std::string, std::string> who = absl::StrSplit(*sender, absl::MaxSplits('\n', 1));
      std::string lead;
      if (!who.second.empty()) {
        CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(views::TeamLeadKey(who.second)));
        if (stored.has_value()) lead = *std::move(stored);
      }
      for (const std::string& to : {who.first, lead}) {
        Notification* n = derived.Add(to, crm::v1::LOW_SURVEY_ANSWER, event.aggregate());
        if (n == nullptr) continue;
        if (answer.has_csat()) n->set_csat(answer.csat());
        if (answer.has_nps()) n->set_nps(answer.nps());
        n->set_concerns(absl::StrCat("staff/", who.first));
      }
      break;
    }
    case EventEnvelope::kTeamCreated:
      if (!event.team_created().team().lead().empty()) {
        batch.Put(views::TeamLeadKey(event.aggregate()), event.team_created().team().lead());
      }
      return absl::OkStatus();
    case EventEnvelope::kTeamUpdated: {
      const auto& updated = event.team_updated();
      for (const std::string& path : updated.changed_paths()) {
        if (path != "lead") continue;
        if (updated.team().lead().empty()) {
          batch.Delete(views::TeamLeadKey(event.aggregate()));
        } else {
          batch.Put(views::TeamLeadKey(event.aggregate()), updated.team().lead());
        }
      }
      return absl::OkStatus();
    }
    case EventEnvelope::kTeamRemoved:
      batch.Delete(views::TeamLeadKey(event.aggregate()));
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
  derived.Write(record, batch);
  return absl::OkStatus();
}

}  // namespace crm::projections::notification
