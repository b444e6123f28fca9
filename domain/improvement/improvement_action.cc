#include "domain/improvement/improvement_action.h"

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "common/status/etag.h"
#include "common/status/violations.h"
#include "domain/common/event_types.h"
#include "domain/common/field_checks.h"
#include "domain/complaint/complaint_aggregate.h"
#include "domain/complaint/event_codec.h"
#include "domain/org/org_aggregate.h"
#include "domain/org/org_names.h"
#include "google/rpc/error_details.pb.h"

namespace crm::domain::improvement {
namespace {

using crm::status::Violations;
using crm::v1::ImprovementAction;

absl::Status NotFound(absl::string_view name) {
  absl::Status status =
      crm::status::Error(absl::StatusCode::kNotFound, absl::StrCat(name, " does not exist"),
                         "IMPROVEMENT_ACTION_NOT_FOUND", {{"name", std::string(name)}});
  google::rpc::ResourceInfo info;
  info.set_resource_type(ImprovementAction::descriptor()->full_name());
  info.set_resource_name(std::string(name));
  crm::status::AddDetail(status, info);
  return status;
}

absl::Status Closed(const ImprovementAction& state) {
  const std::string what = state.state() == crm::v1::IMPROVEMENT_DONE ? "done" : "cancelled";
  absl::Status status =
      crm::status::Error(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat(state.name(), " is ", what, "; only an open action changes"),
                         "IMPROVEMENT_ACTION_CLOSED", {{"name", state.name()}});
  google::rpc::PreconditionFailure failure;
  auto* violation = failure.add_violations();
  violation->set_type("IMPROVEMENT_ACTION_CLOSED");
  violation->set_subject(state.name());
  violation->set_description(absl::StrCat("the action is ", what));
  crm::status::AddDetail(status, failure);
  return status;
}

// Name and etag of a command on an existing action, after its fields are valid.
struct Target {
  std::string name;
  std::optional<int64_t> etag_version;
};

Target CheckTarget(absl::string_view name, absl::string_view request_id, absl::string_view etag,
                   Violations& v) {
  Target target;
  v.Add(crm::domain::ValidateRequestId(request_id, "request_id"));
  auto id = ParseImprovementActionName(name, "name");
  if (v.Check(id)) target.name = ImprovementActionName(*id);
  if (!etag.empty()) {
    auto version = crm::status::ParseEtag(etag, "etag", "the resource's etag");
    if (v.Check(version)) target.etag_version = *version;
  }
  return target;
}

// Existence, etag and openness of the target.
absl::Status CheckOpen(const ImprovementAction& state, const Target& target) {
  if (state.version() == 0) return NotFound(target.name);
  if (target.etag_version.has_value() && *target.etag_version != state.version()) {
    return crm::status::StaleEtag(target.name, "name", *target.etag_version, state.version());
  }
  if (state.state() != crm::v1::IMPROVEMENT_OPEN) return Closed(state);
  return absl::OkStatus();
}

// Validates complaint names (format, no repeats) under `field`; adds violations.
void CheckComplaintNames(const google::protobuf::RepeatedPtrField<std::string>& complaints,
                         absl::string_view field, Violations& v) {
  if (complaints.size() > static_cast<int>(kMaxComplaints)) {
    v.Add(field, absl::StrCat("at most ", kMaxComplaints, " complaints"));
    return;
  }
  std::set<std::string> seen;
  for (int i = 0; i < complaints.size(); ++i) {
    const std::string path = absl::StrCat(field, "[", i, "]");
    if (v.Check(domain::complaint::ParseComplaintName(complaints[i], path)) &&
        !seen.insert(complaints[i]).second) {
      v.Add(path, "is given twice");
    }
  }
}

// NOT_FOUND naming the first complaint that does not exist.
absl::Status CheckComplaintsExist(const std::vector<std::string>& complaints,
                                  const std::vector<int>& indexes, absl::string_view field,
                                  const ImprovementLookup& lookup) {
  if (!lookup.complaint_exists) {
    return crm::status::Error(absl::StatusCode::kInternal,
                              "ImprovementLookup.complaint_exists is required", "INTERNAL");
  }
  for (size_t i = 0; i < complaints.size(); ++i) {
    absl::StatusOr<bool> exists = lookup.complaint_exists(complaints[i]);
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      absl::Status status = crm::status::Error(
          absl::StatusCode::kNotFound,
          absl::StrCat(field, "[", indexes[i], "]: ", complaints[i], " does not exist"),
          "COMPLAINT_NOT_FOUND",
          {{"field", absl::StrCat(field, "[", indexes[i], "]")}, {"complaint", complaints[i]}});
      google::rpc::ResourceInfo info;
      info.set_resource_type(crm::v1::Complaint::descriptor()->full_name());
      info.set_resource_name(complaints[i]);
      crm::status::AddDetail(status, info);
      return status;
    }
  }
  return absl::OkStatus();
}

Events One(Event event) {
  Events events;
  events.push_back(std::move(event));
  return events;
}

bool IsUnknownOfMine(const Event& e) {
  return IsUnknownEventType(e) && absl::StartsWith(e.aggregate(), kImprovementActionPrefix);
}

}  // namespace

std::string ImprovementActionName(absl::string_view id) {
  return absl::StrCat(kImprovementActionPrefix, id);
}

absl::StatusOr<std::string> ParseImprovementActionName(absl::string_view name,
                                                       absl::string_view field) {
  if (!absl::StartsWith(name, kImprovementActionPrefix) ||
      !org::ValidateOrgId(name.substr(kImprovementActionPrefix.size()), field).ok()) {
    return crm::status::InvalidArgument(
        field, "must be \"improvementActions/{id}\", id 1-63 of [a-z0-9-]");
  }
  return std::string(name.substr(kImprovementActionPrefix.size()));
}

bool IsImprovementEvent(const Event& e) {
  return e.has_improvement_action_raised() || e.has_improvement_action_complaints_linked() ||
         e.has_improvement_action_completed() || e.has_improvement_action_cancelled() ||
         IsUnknownOfMine(e);
}

absl::StatusOr<Events> DecideRaise(const ImprovementAction& state,
                                   const crm::v1::RaiseImprovementActionRequest& request,
                                   absl::string_view id, const ImprovementLookup& lookup) {
  Violations v;
  v.Add(org::ValidateOrgId(id, "improvement_action_id"));
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  const ImprovementAction& in = request.improvement_action();
  v.Add(crm::domain::ValidateText(in.title(), kMaxTitle, /*required=*/true,
                                  "improvement_action.title"));
  v.Add(crm::domain::ValidateText(in.description(), kMaxText, /*required=*/false,
                                  "improvement_action.description"));
  if (in.root_cause() == crm::v1::ROOT_CAUSE_UNSPECIFIED ||
      !crm::v1::RootCause_IsValid(in.root_cause())) {
    v.Add("improvement_action.root_cause", "is required: a known root cause");
  }
  v.Add(crm::domain::ValidateStaffId(in.owner(), "improvement_action.owner"));
  if (in.has_due_time() && !base::IsValidTimestamp(in.due_time())) {
    v.Add("improvement_action.due_time", "is not a valid timestamp");
  }
  CheckComplaintNames(in.complaints(), "improvement_action.complaints", v);
  if (in.state() != crm::v1::IMPROVEMENT_ACTION_STATE_UNSPECIFIED) {
    v.Add("improvement_action.state", "is output only");
  }
  if (!in.outcome().empty()) v.Add("improvement_action.outcome", "is output only");
  if (in.has_close_time()) v.Add("improvement_action.close_time", "is output only");
  if (in.version() != 0) v.Add("improvement_action.version", "is output only");
  if (!in.etag().empty()) v.Add("improvement_action.etag", "is output only");
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;

  const std::string name = ImprovementActionName(id);
  if (state.version() != 0) {
    return crm::status::Error(absl::StatusCode::kAlreadyExists,
                              absl::StrCat(name, " already exists"),
                              "IMPROVEMENT_ACTION_ALREADY_EXISTS", {{"name", name}});
  }
  if (!lookup.staff) {
    return crm::status::Error(absl::StatusCode::kInternal, "ImprovementLookup.staff is required",
                              "INTERNAL");
  }
  absl::StatusOr<std::optional<crm::v1::Staff>> owner = lookup.staff(in.owner());
  if (!owner.ok()) return owner.status();
  if (!owner->has_value()) {
    return org::ReferenceNotFound(org::StaffName(in.owner()), "improvement_action.owner");
  }
  if (!(*owner)->active()) {
    return org::StaffInactive(org::StaffName(in.owner()), "improvement_action.owner");
  }
  std::vector<std::string> complaints(in.complaints().begin(), in.complaints().end());
  std::vector<int> indexes(complaints.size());
  for (size_t i = 0; i < indexes.size(); ++i) indexes[i] = static_cast<int>(i);
  if (absl::Status s =
          CheckComplaintsExist(complaints, indexes, "improvement_action.complaints", lookup);
      !s.ok()) {
    return s;
  }
  Event event;
  auto* plan = event.mutable_improvement_action_raised()->mutable_action();
  plan->set_name(name);
  plan->set_title(in.title());
  plan->set_description(in.description());
  plan->set_root_cause(complaint::ToEvent(in.root_cause()));
  plan->set_owner(in.owner());
  if (in.has_due_time()) *plan->mutable_due_time() = in.due_time();
  for (const std::string& c : complaints) plan->add_complaints(c);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideLinkComplaints(
    const ImprovementAction& state, const crm::v1::LinkImprovementComplaintsRequest& request,
    const ImprovementLookup& lookup) {
  Violations v;
  const Target target = CheckTarget(request.name(), request.request_id(), request.etag(), v);
  if (request.complaints().empty()) v.Add("complaints", "is required: at least one complaint");
  CheckComplaintNames(request.complaints(), "complaints", v);
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckOpen(state, target); !s.ok()) return s;
  const std::set<std::string> linked(state.complaints().begin(), state.complaints().end());
  std::vector<std::string> added;
  std::vector<int> indexes;
  for (int i = 0; i < request.complaints_size(); ++i) {
    if (!linked.count(request.complaints(i))) {
      added.push_back(request.complaints(i));
      indexes.push_back(i);
    }
  }
  if (added.empty()) return Events();
  if (static_cast<size_t>(state.complaints_size()) + added.size() > kMaxComplaints) {
    return crm::status::InvalidArgument(
        "complaints", absl::StrCat("an action links at most ", kMaxComplaints, " complaints"));
  }
  if (absl::Status s = CheckComplaintsExist(added, indexes, "complaints", lookup); !s.ok()) {
    return s;
  }
  Event event;
  for (const std::string& c : added) {
    event.mutable_improvement_action_complaints_linked()->add_complaints(c);
  }
  return One(std::move(event));
}

absl::StatusOr<Events> DecideComplete(const ImprovementAction& state,
                                      const crm::v1::CompleteImprovementActionRequest& request) {
  Violations v;
  const Target target = CheckTarget(request.name(), request.request_id(), request.etag(), v);
  v.Add(crm::domain::ValidateText(request.outcome(), kMaxText, /*required=*/true, "outcome"));
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckOpen(state, target); !s.ok()) return s;
  Event event;
  event.mutable_improvement_action_completed()->set_outcome(request.outcome());
  return One(std::move(event));
}

absl::StatusOr<Events> DecideCancel(const ImprovementAction& state,
                                    const crm::v1::CancelImprovementActionRequest& request) {
  Violations v;
  const Target target = CheckTarget(request.name(), request.request_id(), request.etag(), v);
  v.Add(crm::domain::ValidateText(request.reason(), kMaxReason, /*required=*/false, "reason"));
  if (absl::Status s = v.ToStatus(); !s.ok()) return s;
  if (absl::Status s = CheckOpen(state, target); !s.ok()) return s;
  Event event;
  event.mutable_improvement_action_cancelled()->set_reason(request.reason());
  return One(std::move(event));
}

absl::Status Apply(ImprovementAction& state, const Event& event) {
  const bool unknown = IsUnknownEventType(event);
  const bool is_create = event.has_improvement_action_raised();
  if (event.payload_case() == Event::PAYLOAD_NOT_SET && !unknown) {
    return crm::status::Error(absl::StatusCode::kDataLoss,
                              absl::StrCat("event ", event.event_id(), " has no payload"),
                              "EVENT_WITHOUT_PAYLOAD", {{"event_id", event.event_id()}});
  }
  if (!IsImprovementEvent(event)) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event type ", event.event_type(), " does not apply to improvementActions/*"),
        "EVENT_OF_ANOTHER_KIND", {{"aggregate", event.aggregate()}});
  }
  const std::string& name = event.aggregate();
  if (!ParseImprovementActionName(name, "aggregate").ok() ||
      (state.version() != 0 && state.name() != name)) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              absl::StrCat("event of aggregate \"", name, "\" applied to ",
                                           state.name().empty() ? "a new action" : state.name()),
                              "AGGREGATE_MISMATCH", {{"aggregate", name}});
  }
  if (event.aggregate_version() != state.version() + 1) {
    return crm::status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat("event version ", event.aggregate_version(), " applied to ", name,
                     " at version ", state.version(), "; expected ", state.version() + 1),
        "VERSION_MISMATCH", {{"aggregate", name}});
  }
  if (!unknown && is_create != (state.version() == 0)) {
    return crm::status::Error(absl::StatusCode::kFailedPrecondition,
                              is_create
                                  ? absl::StrCat(name, " is raised twice")
                                  : absl::StrCat("the first event of ", name, " does not raise it"),
                              "EVENT_OUT_OF_ORDER", {{"aggregate", name}});
  }
  const google::protobuf::Timestamp& when =
      event.has_occurred_at() ? event.occurred_at() : event.recorded_at();
  if (is_create) {
    const auto& plan = event.improvement_action_raised().action();
    state.set_title(plan.title());
    state.set_description(plan.description());
    state.set_root_cause(complaint::ToApi(plan.root_cause()));
    state.set_owner(plan.owner());
    if (plan.has_due_time()) *state.mutable_due_time() = plan.due_time();
    *state.mutable_complaints() = plan.complaints();
    state.set_state(crm::v1::IMPROVEMENT_OPEN);
    *state.mutable_create_time() = event.recorded_at();
  } else if (event.has_improvement_action_complaints_linked()) {
    for (const std::string& c : event.improvement_action_complaints_linked().complaints()) {
      state.add_complaints(c);
    }
  } else if (event.has_improvement_action_completed()) {
    state.set_state(crm::v1::IMPROVEMENT_DONE);
    state.set_outcome(event.improvement_action_completed().outcome());
    *state.mutable_close_time() = when;
  } else if (event.has_improvement_action_cancelled()) {
    state.set_state(crm::v1::IMPROVEMENT_CANCELLED);
    state.set_outcome(event.improvement_action_cancelled().reason());
    *state.mutable_close_time() = when;
  }
  state.set_name(name);
  state.set_version(event.aggregate_version());
  state.set_etag(crm::status::Etag(event.aggregate_version()));
  *state.mutable_update_time() = event.recorded_at();
  return absl::OkStatus();
}

}  // namespace crm::domain::improvement
