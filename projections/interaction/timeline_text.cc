#include "projections/interaction/timeline_text.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/time_util.h"

namespace crm::projections::interaction {
namespace {

namespace ev = crm::events::v1;
using crm::events::v1::EventEnvelope;
using crm::v1::TimelineEntry;
using google::protobuf::util::TimeUtil;

// Longest free text quoted in a summary, in code points.
constexpr size_t kMaxQuoted = 200;

// `text` cut to at most `max` code points (at a code point boundary), with "…" if cut.
std::string Quote(const std::string& text, size_t max = kMaxQuoted) {
  size_t points = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (points == max) return absl::StrCat(text.substr(0, i), "…");
      ++points;
    }
  }
  return text;
}

// "PRODUCT_QUALITY" -> "product quality"; the number for a value this code does not know.
std::string Words(const std::string& enum_name, int value) {
  if (enum_name.empty()) return absl::StrCat(value);
  return absl::AsciiStrToLower(absl::StrReplaceAll(enum_name, {{"_", " "}}));
}

std::string ChannelText(ev::Channel channel) {
  switch (channel) {
    case ev::PHONE:
      return "Phone call";
    case ev::EMAIL:
      return "E-mail";
    case ev::ONLINE_CHAT:
      return "Online chat";
    case ev::SOCIAL_MEDIA:
      return "Social media";
    case ev::VISIT:
      return "Visit or meeting";
    case ev::SMS:
      return "SMS";
    case ev::OFFLINE_EVENT:
      return "Offline event";
    default:
      return absl::StrCat("Channel ", static_cast<int>(channel));
  }
}

std::string Staff(const ev::StaffRef& ref) {
  return ref.staff_id().empty() ? "nobody" : ref.staff_id();
}

// Minor units as a decimal amount: 0 decimals for the ISO 4217 currencies without minor unit
// in common use, 3 for those with three, else 2.
std::string MoneyText(const ev::Money& money) {
  static const char* const kZero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                                      "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"};
  static const char* const kThree[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  int decimals = 2;
  for (const char* c : kZero) {
    if (money.currency_code() == c) decimals = 0;
  }
  for (const char* c : kThree) {
    if (money.currency_code() == c) decimals = 3;
  }
  const int64_t minor = money.amount_minor();
  const bool negative = minor < 0;
  // Digits of |minor| (as unsigned so that INT64_MIN is fine).
  const uint64_t magnitude =
      negative ? static_cast<uint64_t>(0) - static_cast<uint64_t>(minor) : minor;
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  std::string text =
      absl::StrCat(money.currency_code(), " ", negative ? "-" : "", magnitude / scale);
  if (decimals > 0) absl::StrAppend(&text, absl::StrFormat(".%0*d", decimals, magnitude % scale));
  return text;
}

std::string Interaction(const EventEnvelope& event) {
  const auto& logged = event.interaction_logged();
  const ev::LoggedInteraction& i = logged.interaction();
  std::string text =
      absl::StrCat(ChannelText(i.channel()), " (",
                   Words(ev::Direction_Name(i.direction()), static_cast<int>(i.direction())),
                   ") by ", i.staff_id(), ": ", Quote(i.summary()));
  if (!i.outcome().empty()) absl::StrAppend(&text, "; outcome: ", Quote(i.outcome()));
  if (i.has_follow_up_due_time()) {
    absl::StrAppend(&text, "; follow-up due ", TimeUtil::ToString(i.follow_up_due_time()));
  }
  return text;
}

std::string FollowUp(const EventEnvelope& event) {
  const auto& completed = event.follow_up_completed();
  std::string text = absl::StrCat("Follow-up done by ", Staff(completed.staff()));
  if (!completed.note().empty()) absl::StrAppend(&text, ": ", Quote(completed.note()));
  return text;
}

std::string Complaint(const EventEnvelope& event) {
  switch (event.payload_case()) {
    case EventEnvelope::kComplaintFiled: {
      const auto& filed = event.complaint_filed();
      return absl::StrCat(
          "Complaint filed (",
          Words(ev::ComplaintSeverity_Name(filed.severity()), static_cast<int>(filed.severity())),
          ", ",
          Words(ev::ComplaintCategory_Name(filed.category()), static_cast<int>(filed.category())),
          ") via ", absl::AsciiStrToLower(ChannelText(filed.channel())), ": ",
          Quote(filed.description()));
    }
    case EventEnvelope::kComplaintAcknowledged:
      return absl::StrCat("Complaint acknowledged by ",
                          Staff(event.complaint_acknowledged().responder()));
    case EventEnvelope::kComplaintAssigned: {
      const auto& assigned = event.complaint_assigned();
      std::string text = absl::StrCat("Complaint assigned to ", Staff(assigned.assignee()));
      if (!assigned.previous_assignee().empty()) {
        absl::StrAppend(&text, " (was ", assigned.previous_assignee(), ")");
      }
      return text;
    }
    case EventEnvelope::kComplaintInvestigationStarted:
      return absl::StrCat("Investigation started by ",
                          Staff(event.complaint_investigation_started().assignee()));
    case EventEnvelope::kComplaintResolved: {
      const auto& resolved = event.complaint_resolved();
      return absl::StrCat(
          "Complaint resolved by ", Staff(resolved.resolver()), " (root cause ",
          Words(ev::RootCause_Name(resolved.root_cause()), static_cast<int>(resolved.root_cause())),
          "): ", Quote(resolved.resolution()));
    }
    case EventEnvelope::kComplaintFollowUpVisitRecorded: {
      const auto& visit = event.complaint_follow_up_visit_recorded().visit();
      std::string text =
          absl::StrCat("Follow-up visit: ", visit.satisfied() ? "satisfied" : "not satisfied",
                       ", CSAT ", visit.csat(), "/5");
      if (!visit.comment().empty()) absl::StrAppend(&text, ": ", Quote(visit.comment()));
      return text;
    }
    case EventEnvelope::kComplaintClosed:
      return "Complaint closed";
    case EventEnvelope::kComplaintReopened: {
      std::string text = "Complaint reopened";
      const std::string& reason = event.complaint_reopened().reason();
      if (!reason.empty()) absl::StrAppend(&text, ": ", Quote(reason));
      return text;
    }
    case EventEnvelope::kComplaintEscalated: {
      const auto& escalated = event.complaint_escalated();
      std::string text = absl::StrCat("Complaint escalated to level ", escalated.level());
      if (!escalated.to().staff_id().empty()) {
        absl::StrAppend(&text, " (to ", escalated.to().staff_id(), ")");
      }
      if (escalated.automatic()) {
        absl::StrAppend(
            &text, " automatically on a missed ",
            Words(ev::SlaKind_Name(escalated.sla_kind()), static_cast<int>(escalated.sla_kind())),
            " deadline");
      }
      if (!escalated.reason().empty()) absl::StrAppend(&text, ": ", Quote(escalated.reason()));
      return text;
    }
    case EventEnvelope::kComplaintSlaBreached: {
      const auto& breached = event.complaint_sla_breached();
      return absl::StrCat(
          "Complaint ", Words(ev::SlaKind_Name(breached.kind()), static_cast<int>(breached.kind())),
          " deadline missed (due ", TimeUtil::ToString(breached.due_time()), ")");
    }
    default:
      return "";
  }
}

std::string Profile(const EventEnvelope& event) {
  switch (event.payload_case()) {
    case EventEnvelope::kCustomerRegistered: {
      const auto& registered = event.customer_registered();
      return absl::StrCat("Customer registered: ", Quote(registered.profile().display_name()), " (",
                          Words(ev::LifecycleStage_Name(registered.lifecycle_stage()),
                                static_cast<int>(registered.lifecycle_stage())),
                          ")");
    }
    case EventEnvelope::kCustomerProfileUpdated:
      return absl::StrCat("Profile updated: ",
                          absl::StrJoin(event.customer_profile_updated().changed_paths(), ", "));
    case EventEnvelope::kLifecycleStageChanged: {
      const auto& changed = event.lifecycle_stage_changed();
      std::string text = absl::StrCat(
          "Lifecycle stage ",
          Words(ev::LifecycleStage_Name(changed.from_stage()),
                static_cast<int>(changed.from_stage())),
          " -> ",
          Words(ev::LifecycleStage_Name(changed.to_stage()), static_cast<int>(changed.to_stage())));
      if (!changed.reason().empty()) absl::StrAppend(&text, ": ", Quote(changed.reason()));
      return text;
    }
    case EventEnvelope::kOwnerAssigned: {
      const auto& assigned = event.owner_assigned();
      std::string text = absl::StrCat("Owner assigned: ", assigned.owner());
      if (!assigned.previous_owner().empty()) {
        absl::StrAppend(&text, " (was ", assigned.previous_owner(), ")");
      }
      return text;
    }
    case EventEnvelope::kOwnerUnassigned: {
      const auto& cleared = event.owner_unassigned();
      std::string text = absl::StrCat("Owner cleared (was ", cleared.previous_owner(), ")");
      if (!cleared.reason().empty()) absl::StrAppend(&text, ": ", Quote(cleared.reason()));
      return text;
    }
    case EventEnvelope::kCustomerMerged:
      return absl::StrCat("Merged customers/", event.customer_merged().merged_customer_id(),
                          " into this customer");
    case EventEnvelope::kCustomerMergedInto:
      return absl::StrCat("Merged into customers/", event.customer_merged_into().survivor_id());
    default:
      return "";
  }
}

std::string Purchase(const EventEnvelope& event) {
  const ev::Purchase& purchase = event.purchase_recorded().purchase();
  return absl::StrCat("Purchase: ", Quote(purchase.product()), ", ", MoneyText(purchase.amount()));
}

}  // namespace

std::optional<TimelineEntry> TimelineEntryFor(const EventEnvelope& event) {
  if (event.customer_id().empty()) return std::nullopt;
  TimelineEntry entry;
  const std::string customer = absl::StrCat("customers/", event.customer_id());
  switch (event.payload_case()) {
    case EventEnvelope::kInteractionLogged:
      entry.set_kind(crm::v1::TIMELINE_INTERACTION);
      entry.set_summary(Interaction(event));
      entry.set_resource(event.aggregate());
      break;
    case EventEnvelope::kFollowUpCompleted:
      entry.set_kind(crm::v1::TIMELINE_FOLLOW_UP);
      entry.set_summary(FollowUp(event));
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
      entry.set_summary(Complaint(event));
      entry.set_resource(event.aggregate());
      break;
    case EventEnvelope::kCustomerRegistered:
    case EventEnvelope::kCustomerProfileUpdated:
    case EventEnvelope::kLifecycleStageChanged:
    case EventEnvelope::kOwnerAssigned:
    case EventEnvelope::kOwnerUnassigned:
      entry.set_kind(crm::v1::TIMELINE_PROFILE);
      entry.set_summary(Profile(event));
      entry.set_resource(customer);
      break;
    case EventEnvelope::kCustomerMerged:  // links the merged customer's timeline
      entry.set_kind(crm::v1::TIMELINE_PROFILE);
      entry.set_summary(Profile(event));
      entry.set_resource(absl::StrCat("customers/", event.customer_merged().merged_customer_id()));
      break;
    case EventEnvelope::kCustomerMergedInto:  // links the survivor's timeline
      entry.set_kind(crm::v1::TIMELINE_PROFILE);
      entry.set_summary(Profile(event));
      entry.set_resource(absl::StrCat("customers/", event.customer_merged_into().survivor_id()));
      break;
    case EventEnvelope::kPurchaseRecorded:
      entry.set_kind(crm::v1::TIMELINE_PURCHASE);
      entry.set_summary(Purchase(event));
      entry.set_resource(customer);
      break;
    default:
      return std::nullopt;
  }
  *entry.mutable_time() = event.has_occurred_at() ? event.occurred_at() : event.recorded_at();
  *entry.mutable_event() = event;
  return entry;
}

}  // namespace crm::projections::interaction
