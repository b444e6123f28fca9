#include "domain/interaction/interaction_aggregate.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "common/status/violations.h"
#include "domain/common/event_types.h"
#include "domain/common/field_checks.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/event_codec.h"
#include "domain/interaction/event_codec.h"
#include "google/protobuf/util/time_util.h"

namespace crm::domain::interaction {
namespace {

using crm::v1::Interaction;
using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

constexpr absl::string_view kCustomersPrefix = "customers/";
constexpr absl::string_view kInteractionsCollection = "interactions";
constexpr absl::string_view kComplaintsCollection = "complaints";

using crm::status::Violations;

bool TimestampLess(const Timestamp& a, const Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() < b.seconds() : a.nanos() < b.nanos();
}

absl::Status NotFound(absl::string_view what, absl::string_view reason, absl::string_view type,
                      absl::string_view name, std::map<std::string, std::string> metadata) {
  metadata.emplace(std::string(what), std::string(name));
  return status::ResourceNotFound(type, name, reason, metadata);
}

absl::Status InteractionNotFound(absl::string_view name) {
  return NotFound("interaction", "INTERACTION_NOT_FOUND", Interaction::descriptor()->full_name(),
                  name, {});
}

absl::Status MissingLookup(absl::string_view what) {
  return status::Error(absl::StatusCode::kInternal,
                       absl::StrCat("DecideContext.", what, " is required"), "INTERNAL");
}

// Checks a timestamp field; returns whether it is set and valid.
bool CheckTimestamp(bool has, const Timestamp& ts, bool required, absl::string_view field,
                    Violations& v) {
  if (!has) {
    if (required) v.Add(field, "is required");
    return false;
  }
  if (!base::IsValidTimestamp(ts)) {
    v.Add(field, "is not a valid timestamp");
    return false;
  }
  return true;
}

Events One(Event event) {
  Events events;
  events.push_back(std::move(event));
  return events;
}

}  // namespace

absl::StatusOr<ChildName> ParseChildName(absl::string_view name, absl::string_view collection,
                                         absl::string_view field) {
  if (name.empty()) return status::InvalidArgument(field, "is required");
  const std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  const std::string shape = absl::StrCat("must be customers/{customer_id}/", collection,
                                         "/{id} with ids of 1 to 63 of ", "[a-z0-9-]");
  if (parts.size() != 4 || parts[0] != "customers" || parts[2] != collection ||
      !crm::domain::ValidateCustomerId(parts[1], field).ok() ||
      !ValidateInteractionId(parts[3], field).ok()) {
    return status::InvalidArgument(field, shape);
  }
  return ChildName{std::string(parts[1]), std::string(parts[3])};
}

std::string InteractionName(absl::string_view customer_id, absl::string_view interaction_id) {
  return absl::StrCat(kCustomersPrefix, customer_id, "/", kInteractionsCollection, "/",
                      interaction_id);
}

absl::StatusOr<ChildName> ParseInteractionName(absl::string_view name, absl::string_view field) {
  return ParseChildName(name, kInteractionsCollection, field);
}

absl::StatusOr<ChildName> ParseComplaintName(absl::string_view name, absl::string_view field) {
  return ParseChildName(name, kComplaintsCollection, field);
}

absl::Status ValidateInteractionId(absl::string_view id, absl::string_view field) {
  // Same shape as customer ids.
  return crm::domain::ValidateCustomerId(id, field);
}

bool IsInteractionEvent(const Event& event) {
  return event.payload_case() == Event::kInteractionLogged ||
         event.payload_case() == Event::kFollowUpCompleted ||
         event.payload_case() == Event::kFollowUpDueSoon ||
         // A type this build does not know belongs to the aggregate it names.
         (IsUnknownEventType(event) && ParseInteractionName(event.aggregate(), "aggregate").ok());
}

absl::StatusOr<Events> DecideLogInteraction(const State& state,
                                            const crm::v1::LogInteractionRequest& request,
                                            absl::string_view interaction_id,
                                            const DecideContext& context) {
  Violations v;
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  absl::StatusOr<std::string> customer_id = customer::ParseCustomerName(request.parent(), "parent");
  v.Check(customer_id);
  v.Add(ValidateInteractionId(interaction_id, "interaction_id"));

  const Interaction& in = request.interaction();
  v.Add(crm::domain::ValidateRequiredEnum(*crm::v1::Channel_descriptor(), in.channel(),
                                          "interaction.channel"));
  v.Add(crm::domain::ValidateRequiredEnum(*crm::v1::Direction_descriptor(), in.direction(),
                                          "interaction.direction"));
  v.Add(crm::domain::ValidateStaffId(in.staff_id(), "interaction.staff_id"));
  const bool occurred_ok = CheckTimestamp(in.has_occurred_at(), in.occurred_at(),
                                          /*required=*/true, "interaction.occurred_at", v);
  if (occurred_ok && base::ToTime(in.occurred_at()) > context.now + kMaxOccurredFutureSkew) {
    v.Add("interaction.occurred_at", "must not be more than one day in the future");
  }
  v.Add(crm::domain::ValidateText(in.summary(), kMaxSummary, /*required=*/true,
                                  "interaction.summary"));
  v.Add(crm::domain::ValidateText(in.outcome(), kMaxOutcome, /*required=*/false,
                                  "interaction.outcome"));
  if (CheckTimestamp(in.has_follow_up_due_time(), in.follow_up_due_time(), /*required=*/false,
                     "interaction.follow_up_due_time", v) &&
      occurred_ok && !TimestampLess(in.occurred_at(), in.follow_up_due_time())) {
    v.Add("interaction.follow_up_due_time", "must be after occurred_at");
  }
  if (!in.complaint().empty()) {
    absl::StatusOr<ChildName> complaint =
        ParseComplaintName(in.complaint(), "interaction.complaint");
    if (v.Check(complaint) && customer_id.ok() && complaint->customer_id != *customer_id) {
      v.Add("interaction.complaint", "must be a complaint of the same customer as parent");
    }
  }
  // Fields other commands set, and output-only fields: rejected rather than silently dropped.
  // name, create_time and update_time are ignored (AIP-133: the name comes from parent and
  // interaction_id).
  if (in.has_follow_up_complete_time()) {
    v.Add("interaction.follow_up_complete_time", "is set by CompleteFollowUp");
  }
  if (!in.follow_up_note().empty()) {
    v.Add("interaction.follow_up_note", "is set by CompleteFollowUp");
  }
  if (in.version() != 0) v.Add("interaction.version", "is output only");
  if (!in.etag().empty()) v.Add("interaction.etag", "is output only");
  if (in.customer_tier() != crm::v1::VALUE_TIER_UNSPECIFIED) {
    v.Add("interaction.customer_tier", "is output only: the customer's value tier sets it");
  }
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (!context.customer_exists) return MissingLookup("customer_exists");
  absl::StatusOr<bool> customer_found = context.customer_exists(*customer_id);
  if (!customer_found.ok()) return customer_found.status();
  if (!*customer_found) {
    return NotFound("customer", "CUSTOMER_NOT_FOUND", "crm.v1.Customer", request.parent(), {});
  }
  const std::string name = InteractionName(*customer_id, interaction_id);
  if (state.version() != 0) {
    return status::Error(absl::StatusCode::kAlreadyExists, absl::StrCat(name, " already exists"),
                         "INTERACTION_ALREADY_EXISTS", {{"interaction", name}});
  }
  if (!context.staff) return MissingLookup("staff");
  absl::StatusOr<crm::v1::StaffRef> staff = context.staff(in.staff_id(), "interaction.staff_id");
  if (!staff.ok()) return staff.status();
  if (!in.complaint().empty()) {
    if (!context.complaint_exists) return MissingLookup("complaint_exists");
    absl::StatusOr<bool> complaint_found = context.complaint_exists(in.complaint());
    if (!complaint_found.ok()) return complaint_found.status();
    if (!*complaint_found) {
      return NotFound("complaint", "COMPLAINT_NOT_FOUND", "crm.v1.Complaint", in.complaint(),
                      {{"field", "interaction.complaint"}});
    }
  }

  Event event;
  *event.mutable_occurred_at() = in.occurred_at();
  auto* logged = event.mutable_interaction_logged();
  Interaction out;
  out.set_name(name);
  out.set_channel(in.channel());
  out.set_direction(in.direction());
  out.set_staff_id(in.staff_id());
  *out.mutable_occurred_at() = in.occurred_at();
  out.set_summary(in.summary());
  out.set_outcome(in.outcome());
  if (in.has_follow_up_due_time()) *out.mutable_follow_up_due_time() = in.follow_up_due_time();
  out.set_complaint(in.complaint());
  *logged->mutable_interaction() = ToEvent(out);
  *logged->mutable_staff() = ToEvent(*staff);
  absl::StatusOr<crm::events::v1::ValueTier> tier =
      domain::customer::TierToRecord(context.customer_tier, *customer_id);
  if (!tier.ok()) return tier.status();
  logged->set_customer_tier(*tier);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideCompleteFollowUp(const State& state,
                                              const crm::v1::CompleteFollowUpRequest& request,
                                              const DecideContext& context) {
  Violations v;
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  absl::StatusOr<ChildName> target = ParseInteractionName(request.name(), "name");
  v.Check(target);
  std::optional<int64_t> etag_version;
  if (!request.etag().empty()) {
    absl::StatusOr<int64_t> version = ParseEtag(request.etag(), "etag");
    if (v.Check(version)) etag_version = *version;
  }
  v.Add(crm::domain::ValidateText(request.note(), kMaxNote, /*required=*/false, "note"));
  if (!request.staff_id().empty())
    v.Add(crm::domain::ValidateStaffId(request.staff_id(), "staff_id"));
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  const std::string name = InteractionName(target->customer_id, target->id);
  if (state.version() == 0) return InteractionNotFound(name);
  if (etag_version.has_value() && *etag_version != state.version()) {
    return status::StaleEtag(name, "interaction", *etag_version, state.version());
  }
  if (!state.has_follow_up_due_time()) {
    return status::Error(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat(name, " has no follow-up due"), "NO_FOLLOW_UP",
                         {{"interaction", name}});
  }
  if (state.has_follow_up_complete_time()) {
    return status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat(name, "'s follow-up was already completed at ",
                     TimeUtil::ToString(state.follow_up_complete_time())),
        "FOLLOW_UP_ALREADY_COMPLETE",
        {{"interaction", name},
         {"follow_up_complete_time", TimeUtil::ToString(state.follow_up_complete_time())}});
  }
  if (!context.staff) return MissingLookup("staff");
  crm::v1::StaffRef staff;
  if (!request.staff_id().empty()) {
    absl::StatusOr<crm::v1::StaffRef> found = context.staff(request.staff_id(), "staff_id");
    if (!found.ok()) return found.status();
    staff = std::move(*found);
  } else {
    absl::StatusOr<crm::v1::StaffRef> found = context.staff(state.staff_id(), "staff_id");
    if (found.ok()) {
      staff = std::move(*found);
    } else if (absl::IsNotFound(found.status()) || absl::IsFailedPrecondition(found.status())) {
      // The interaction's own staff member left: the follow-up is still theirs.
      staff.set_staff_id(state.staff_id());
    } else {
      return found.status();
    }
  }

  Event event;
  auto* completed = event.mutable_follow_up_completed();
  *completed->mutable_complete_time() = base::ToTimestamp(context.now);
  completed->set_note(request.note());
  *completed->mutable_staff() = ToEvent(staff);
  return One(std::move(event));
}

absl::Status CheckChildEvent(const Event& event, bool of_kind, absl::string_view collection,
                             absl::string_view kind, absl::string_view a_kind,
                             absl::string_view state_name, int64_t state_version) {
  if (event.payload_case() == Event::PAYLOAD_NOT_SET && !IsUnknownEventType(event)) {
    return status::Error(absl::StatusCode::kDataLoss,
                         absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                      " at version ", event.aggregate_version(), " has no payload"),
                         "EVENT_WITHOUT_PAYLOAD",
                         {{"event_id", event.event_id()}, {"aggregate", event.aggregate()}});
  }
  if (!of_kind) {
    std::string reason = absl::StrCat("NOT_", a_kind, "_EVENT");
    absl::AsciiStrToUpper(&reason);
    std::replace(reason.begin(), reason.end(), ' ', '_');
    return status::Error(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat("event ", event.event_id(), " of type ", event.event_type(),
                                      " is not ", a_kind, " event"),
                         reason, {{"event_id", event.event_id()}});
  }
  absl::StatusOr<ChildName> parsed = ParseChildName(event.aggregate(), collection, "aggregate");
  if (!parsed.ok() || parsed->customer_id != event.customer_id() ||
      (state_version != 0 && state_name != event.aggregate())) {
    return status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event of aggregate \"", event.aggregate(), "\" (customer \"",
                     event.customer_id(), "\") applied to ",
                     state_name.empty() ? absl::StrCat("a new ", kind) : std::string(state_name)),
        "AGGREGATE_MISMATCH",
        {{"event_aggregate", event.aggregate()}, {std::string(kind), std::string(state_name)}});
  }
  if (event.aggregate_version() != state_version + 1) {
    return status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event version ", event.aggregate_version(), " applied to ", event.aggregate(),
                     " at version ", state_version, "; expected ", state_version + 1),
        "VERSION_MISMATCH",
        {{std::string(kind), event.aggregate()},
         {"event_version", absl::StrCat(event.aggregate_version())},
         {"state_version", absl::StrCat(state_version)}});
  }
  return absl::OkStatus();
}

absl::StatusOr<Events> DecideRemindFollowUp(const State& state, absl::string_view name,
                                            absl::Time due, absl::Duration lead, absl::Time now) {
  if (lead <= absl::ZeroDuration()) return status::InvalidArgument("lead", "must be positive");
  if (state.version() == 0) return InteractionNotFound(name);
  if (!state.has_follow_up_due_time() || state.has_follow_up_complete_time() ||
      state.follow_up_reminded()) {
    return Events();
  }
  const absl::Time at = base::ToTime(state.follow_up_due_time());
  if (at != due || now < due - lead || now > due) return Events();
  Event event;
  *event.mutable_occurred_at() = base::ToTimestamp(due - lead);
  auto* soon = event.mutable_follow_up_due_soon();
  *soon->mutable_follow_up_due_time() = state.follow_up_due_time();
  soon->set_staff_id(state.staff_id());
  return One(std::move(event));
}

absl::Status Apply(State& state, const Event& event) {
  const bool unknown = IsUnknownEventType(event);
  if (absl::Status s =
          CheckChildEvent(event, IsInteractionEvent(event), kInteractionsCollection, "interaction",
                          "an interaction", state.name(), state.version());
      !s.ok()) {
    return s;
  }
  const std::string& name = event.aggregate();
  if (unknown) {  // a newer writer's type: only the version moves
    state.set_version(event.aggregate_version());
    state.set_etag(Etag(state.version()));
    *state.mutable_update_time() = event.recorded_at();
    return absl::OkStatus();
  }
  const bool is_logged = event.payload_case() == Event::kInteractionLogged;
  if (is_logged != (state.version() == 0)) {
    return status::Error(absl::StatusCode::kFailedPrecondition,
                         is_logged ? absl::StrCat(name, " is logged twice")
                                   : absl::StrCat("the first event of ", name,
                                                  " is not crm.events.v1.InteractionLogged"),
                         "EVENT_OUT_OF_ORDER", {{"interaction", name}});
  }

  if (is_logged) {
    State next = ToApi(event.interaction_logged().interaction());
    next.set_customer_tier(domain::customer::ToApi(event.interaction_logged().customer_tier()));
    *next.mutable_create_time() = event.recorded_at();
    state = std::move(next);
  } else if (event.payload_case() == Event::kFollowUpDueSoon) {
    state.set_follow_up_reminded(true);
  } else {
    const auto& completed = event.follow_up_completed();
    *state.mutable_follow_up_complete_time() = completed.complete_time();
    state.set_follow_up_note(completed.note());
  }
  state.set_name(name);
  state.set_version(event.aggregate_version());
  state.set_etag(Etag(state.version()));
  *state.mutable_update_time() = event.recorded_at();
  return absl::OkStatus();
}

}  // namespace crm::domain::interaction
