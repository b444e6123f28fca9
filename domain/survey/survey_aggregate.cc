#include "domain/survey/survey_aggregate.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "common/status/violations.h"
#include "domain/common/event_codec.h"
#include "domain/common/event_types.h"
#include "domain/common/field_checks.h"
#include "domain/customer/customer_aggregate.h"
#include "domain/customer/event_codec.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"

namespace crm::domain::survey {
namespace {

namespace ev = crm::events::v1;
using crm::status::Violations;
using crm::v1::Survey;
using google::protobuf::util::TimeUtil;

CRM_SAME_ENUM_RANGE(crm::v1::SurveyChannel, ev::SurveyChannel);

constexpr absl::string_view kSurveysCollection = "surveys";

absl::Status NotFound(absl::string_view what, absl::string_view reason, absl::string_view type,
                      absl::string_view name, std::map<std::string, std::string> metadata) {
  metadata.emplace(std::string(what), std::string(name));
  absl::Status status = status::Error(absl::StatusCode::kNotFound,
                                      absl::StrCat(name, " does not exist"), reason, metadata);
  google::rpc::ResourceInfo info;
  info.set_resource_type(std::string(type));
  info.set_resource_name(std::string(name));
  status::AddDetail(status, info);
  return status;
}

absl::Status SurveyNotFound(absl::string_view name) {
  return NotFound("survey", "SURVEY_NOT_FOUND", Survey::descriptor()->full_name(), name, {});
}

absl::Status MissingLookup(absl::string_view what) {
  return status::Error(absl::StatusCode::kInternal,
                       absl::StrCat("DecideContext.", what, " is required"), "INTERNAL");
}

// A link to another child of the same customer ("complaints" / "interactions").
void CheckLink(absl::string_view link, absl::string_view collection, absl::string_view field,
               const absl::StatusOr<std::string>& customer_id, Violations& v) {
  if (link.empty()) return;
  absl::StatusOr<ChildName> parsed = interaction::ParseChildName(link, collection, field);
  if (v.Check(parsed) && customer_id.ok() && parsed->customer_id != *customer_id) {
    v.Add(field,
          absl::StrCat("must be a ", collection, " resource of the same customer as parent"));
  }
}

// NOT_FOUND naming `field` unless `exists` says the linked resource exists.
absl::Status CheckLinked(absl::string_view link, absl::string_view what, absl::string_view reason,
                         absl::string_view type, absl::string_view field,
                         const std::function<absl::StatusOr<bool>(absl::string_view)>& exists) {
  if (link.empty()) return absl::OkStatus();
  if (!exists) return MissingLookup(absl::StrCat(what, "_exists"));
  absl::StatusOr<bool> found = exists(link);
  if (!found.ok()) return found.status();
  if (!*found) return NotFound(what, reason, type, link, {{"field", std::string(field)}});
  return absl::OkStatus();
}

Events One(Event event) {
  Events events;
  events.push_back(std::move(event));
  return events;
}

}  // namespace

std::string SurveyName(absl::string_view customer_id, absl::string_view survey_id) {
  return absl::StrCat("customers/", customer_id, "/", kSurveysCollection, "/", survey_id);
}

absl::StatusOr<ChildName> ParseSurveyName(absl::string_view name, absl::string_view field) {
  return interaction::ParseChildName(name, kSurveysCollection, field);
}

ev::SurveyChannel ToEvent(crm::v1::SurveyChannel channel) {
  return EnumByNumber<ev::SurveyChannel>(channel);
}
crm::v1::SurveyChannel ToApi(ev::SurveyChannel channel) {
  return EnumByNumber<crm::v1::SurveyChannel>(channel);
}

bool IsSurveyEvent(const Event& event) {
  return event.payload_case() == Event::kSurveySent ||
         event.payload_case() == Event::kSurveyAnswered ||
         event.payload_case() == Event::kSurveyExpired ||
         (IsUnknownEventType(event) && ParseSurveyName(event.aggregate(), "aggregate").ok());
}

std::optional<absl::Time> OpenDeadline(const State& state) {
  if (state.version() == 0 || state.state() != crm::v1::SURVEY_AWAITING_ANSWER ||
      !state.has_answer_due_time()) {
    return std::nullopt;
  }
  return base::ToTime(state.answer_due_time());
}

absl::StatusOr<Events> DecideSendSurvey(const State& state,
                                        const crm::v1::SendSurveyRequest& request,
                                        absl::string_view survey_id, const DecideContext& context) {
  Violations v;
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  absl::StatusOr<std::string> customer_id = customer::ParseCustomerName(request.parent(), "parent");
  v.Check(customer_id);
  v.Add(crm::domain::ValidateCustomerId(survey_id, "survey_id"));

  const Survey& in = request.survey();
  if (in.channel() == crm::v1::SURVEY_CHANNEL_UNSPECIFIED) {
    v.Add("survey.channel",
          "is required: SURVEY_CHANNEL_CALL_BACK, SURVEY_CHANNEL_EMAIL or "
          "SURVEY_CHANNEL_QUESTIONNAIRE");
  } else if (!crm::v1::SurveyChannel_IsValid(in.channel())) {
    v.Add("survey.channel", absl::StrCat("unknown value ", static_cast<int>(in.channel())));
  }
  v.Add(crm::domain::ValidateStaffId(in.staff_id(), "survey.staff_id"));
  CheckLink(in.complaint(), "complaints", "survey.complaint", customer_id, v);
  CheckLink(in.interaction(), "interactions", "survey.interaction", customer_id, v);
  absl::Time due = context.now + kDefaultAnswerWindow;
  if (in.has_answer_due_time()) {
    if (!base::IsValidTimestamp(in.answer_due_time())) {
      v.Add("survey.answer_due_time", "is not a valid timestamp");
    } else {
      due = base::ToTime(in.answer_due_time());
      if (due <= context.now) {
        v.Add("survey.answer_due_time", "must be in the future");
      } else if (due > context.now + kMaxAnswerWindow) {
        v.Add("survey.answer_due_time", "must be at most 90 days after the survey is sent");
      }
    }
  }
  // Output-only fields: rejected rather than silently dropped (name is ignored, AIP-133).
  if (in.state() != crm::v1::SURVEY_STATE_UNSPECIFIED) v.Add("survey.state", "is output only");
  if (in.has_csat()) v.Add("survey.csat", "is set by RecordSurveyAnswer");
  if (in.has_nps()) v.Add("survey.nps", "is set by RecordSurveyAnswer");
  if (!in.comment().empty()) v.Add("survey.comment", "is set by RecordSurveyAnswer");
  if (in.has_answer_time()) v.Add("survey.answer_time", "is set by RecordSurveyAnswer");
  if (in.has_staff()) v.Add("survey.staff", "is output only: staff_id sets it");
  if (in.customer_tier() != crm::v1::VALUE_TIER_UNSPECIFIED) {
    v.Add("survey.customer_tier", "is output only: the customer's value tier sets it");
  }
  if (in.version() != 0) v.Add("survey.version", "is output only");
  if (!in.etag().empty()) v.Add("survey.etag", "is output only");
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  if (!context.customer_exists) return MissingLookup("customer_exists");
  absl::StatusOr<bool> customer_found = context.customer_exists(*customer_id);
  if (!customer_found.ok()) return customer_found.status();
  if (!*customer_found) {
    return NotFound("customer", "CUSTOMER_NOT_FOUND", "crm.v1.Customer", request.parent(), {});
  }
  const std::string name = SurveyName(*customer_id, survey_id);
  if (state.version() != 0) {
    return status::Error(absl::StatusCode::kAlreadyExists, absl::StrCat(name, " already exists"),
                         "SURVEY_ALREADY_EXISTS", {{"survey", name}});
  }
  if (!context.staff) return MissingLookup("staff");
  absl::StatusOr<crm::v1::StaffRef> staff = context.staff(in.staff_id(), "survey.staff_id");
  if (!staff.ok()) return staff.status();
  if (absl::Status s =
          CheckLinked(in.complaint(), "complaint", "COMPLAINT_NOT_FOUND", "crm.v1.Complaint",
                      "survey.complaint", context.complaint_exists);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckLinked(in.interaction(), "interaction", "INTERACTION_NOT_FOUND",
                      "crm.v1.Interaction", "survey.interaction", context.interaction_exists);
      !s.ok()) {
    return s;
  }

  Event event;
  ev::SurveySent* sent = event.mutable_survey_sent();
  sent->set_name(name);
  sent->set_channel(ToEvent(in.channel()));
  *sent->mutable_staff() = ToEvent(*staff);
  sent->set_complaint(in.complaint());
  sent->set_interaction(in.interaction());
  *sent->mutable_answer_due_time() = base::ToTimestamp(due);
  absl::StatusOr<crm::events::v1::ValueTier> tier =
      domain::customer::TierToRecord(context.customer_tier, *customer_id);
  if (!tier.ok()) return tier.status();
  sent->set_customer_tier(*tier);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideRecordSurveyAnswer(const State& state,
                                                const crm::v1::RecordSurveyAnswerRequest& request,
                                                const DecideContext& context) {
  Violations v;
  v.Add(crm::domain::ValidateRequestId(request.request_id(), "request_id"));
  absl::StatusOr<ChildName> target = ParseSurveyName(request.name(), "name");
  v.Check(target);
  std::optional<int64_t> etag_version;
  if (!request.etag().empty()) {
    absl::StatusOr<int64_t> version = ParseEtag(request.etag(), "etag");
    if (v.Check(version)) etag_version = *version;
  }
  if (!request.has_csat() && !request.has_nps()) {
    v.Add("csat", "csat (1 to 5) or nps (0 to 10) is required");
  }
  if (request.has_csat() && (request.csat() < 1 || request.csat() > 5)) {
    v.Add("csat", absl::StrCat("must be 1 to 5, not ", request.csat()));
  }
  if (request.has_nps() && (request.nps() < 0 || request.nps() > 10)) {
    v.Add("nps", absl::StrCat("must be 0 to 10, not ", request.nps()));
  }
  v.Add(crm::domain::ValidateText(request.comment(), kMaxComment, /*required=*/false, "comment"));
  if (absl::Status status = v.ToStatus(); !status.ok()) return status;

  const std::string name = SurveyName(target->customer_id, target->id);
  if (state.version() == 0) return SurveyNotFound(name);
  if (etag_version.has_value() && *etag_version != state.version()) {
    return status::StaleEtag(name, "survey", *etag_version, state.version());
  }
  if (state.state() == crm::v1::SURVEY_ANSWERED) {
    return status::Error(
        absl::StatusCode::kFailedPrecondition,
        absl::StrCat(name, " was already answered at ", TimeUtil::ToString(state.answer_time())),
        "SURVEY_ALREADY_ANSWERED",
        {{"survey", name}, {"answer_time", TimeUtil::ToString(state.answer_time())}});
  }
  if (state.state() == crm::v1::SURVEY_EXPIRED ||
      context.now >= base::ToTime(state.answer_due_time())) {
    const std::string due = TimeUtil::ToString(state.answer_due_time());
    return status::Error(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat(name, " expired: answers were due before ", due),
                         "SURVEY_EXPIRED", {{"survey", name}, {"answer_due_time", due}});
  }

  Event event;
  *event.mutable_occurred_at() = base::ToTimestamp(context.now);
  ev::SurveyAnswered* answered = event.mutable_survey_answered();
  if (request.has_csat()) answered->set_csat(request.csat());
  if (request.has_nps()) answered->set_nps(request.nps());
  answered->set_comment(request.comment());
  *answered->mutable_answer_time() = base::ToTimestamp(context.now);
  return One(std::move(event));
}

absl::StatusOr<Events> DecideExpireSurvey(const State& state, absl::Time due,
                                          const DecideContext& context) {
  if (state.version() == 0) return SurveyNotFound(state.name());
  const std::optional<absl::Time> open = OpenDeadline(state);
  // `due` may come from an index that keeps microseconds only.
  if (!open.has_value() || absl::ToUnixMicros(*open) != absl::ToUnixMicros(due) ||
      context.now < *open) {
    return Events();
  }
  Event event;
  *event.mutable_occurred_at() = state.answer_due_time();
  *event.mutable_survey_expired()->mutable_answer_due_time() = state.answer_due_time();
  return One(std::move(event));
}

absl::Status Apply(State& state, const Event& event) {
  const bool unknown = IsUnknownEventType(event);
  if (absl::Status s =
          interaction::CheckChildEvent(event, IsSurveyEvent(event), kSurveysCollection, "survey",
                                       "a survey", state.name(), state.version());
      !s.ok()) {
    return s;
  }
  const std::string& name = event.aggregate();
  if (!unknown) {
    const bool is_sent = event.payload_case() == Event::kSurveySent;
    const bool open = state.state() == crm::v1::SURVEY_AWAITING_ANSWER;
    if (is_sent != (state.version() == 0) || (!is_sent && !open)) {
      return status::Error(
          absl::StatusCode::kFailedPrecondition,
          absl::StrCat(event.event_type(), " does not follow the events of ", name),
          "EVENT_OUT_OF_ORDER", {{"survey", name}});
    }
    if (is_sent) {
      const ev::SurveySent& sent = event.survey_sent();
      State next;
      next.set_channel(ToApi(sent.channel()));
      next.set_staff_id(sent.staff().staff_id());
      *next.mutable_staff() = ToApi(sent.staff());
      next.set_complaint(sent.complaint());
      next.set_interaction(sent.interaction());
      *next.mutable_answer_due_time() = sent.answer_due_time();
      next.set_customer_tier(domain::customer::ToApi(sent.customer_tier()));
      next.set_state(crm::v1::SURVEY_AWAITING_ANSWER);
      *next.mutable_create_time() = event.recorded_at();
      state = std::move(next);
    } else if (event.payload_case() == Event::kSurveyAnswered) {
      const ev::SurveyAnswered& answered = event.survey_answered();
      if (answered.has_csat()) state.set_csat(answered.csat());
      if (answered.has_nps()) state.set_nps(answered.nps());
      state.set_comment(answered.comment());
      *state.mutable_answer_time() = answered.answer_time();
      state.set_state(crm::v1::SURVEY_ANSWERED);
    } else {
      state.set_state(crm::v1::SURVEY_EXPIRED);
    }
  }
  state.set_name(name);
  state.set_version(event.aggregate_version());
  state.set_etag(crm::status::Etag(state.version()));
  *state.mutable_update_time() = event.recorded_at();
  return absl::OkStatus();
}

}  // namespace crm::domain::survey
