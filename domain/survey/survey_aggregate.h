// The satisfaction survey aggregate (满意度调查, DOMAIN.md section 6): pure decide/apply functions.
//
//   Decide*(state, request, context) -> the events the command produces, or why it is refused.
//   Apply(state, event)              -> the state after the event.
//
// A survey is its own aggregate ("customers/{cid}/surveys/{id}") in its customer's stream:
// SurveySent (always first), then at most one of SurveyAnswered or SurveyExpired. No I/O and no
// clock of their own: the time and the lookups of other aggregates come in through DecideContext.
//
// State: a crm.v1.Survey; version 0 (the default instance) means "does not exist". Decided events
// carry only their payload (and occurred_at where it is not the command's time); the command
// executor stamps ids, versions, times and metadata.
//
// The rules are documented for API users in proto/crm/v1/README.md, section "Surveys".
// Thread-safe: pure functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status/etag.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/v1/customer.pb.h"
#include "crm/v1/org.pb.h"
#include "crm/v1/survey.pb.h"
#include "crm/v1/survey_service.pb.h"
#include "domain/common/event_codec.h"
#include "domain/interaction/interaction_aggregate.h"

namespace crm::domain::survey {

using Event = crm::events::v1::EventEnvelope;
using Events = std::vector<Event>;
using State = crm::v1::Survey;
using interaction::ChildName;

// Limits (documented in proto/crm/v1/README.md).
inline constexpr size_t kMaxComment = 2000;
// The answer deadline when SendSurvey gives none, and the latest one it may give.
inline constexpr absl::Duration kDefaultAnswerWindow = absl::Hours(24 * 7);
inline constexpr absl::Duration kMaxAnswerWindow = absl::Hours(24 * 90);

struct DecideContext {
  // The time the command is decided at (recorded_at of its events).
  absl::Time now;
  // Whether customer `customer_id` exists. Required by DecideSendSurvey.
  std::function<absl::StatusOr<bool>(absl::string_view customer_id)> customer_exists;
  // The reference of an active staff member (NOT_FOUND / FAILED_PRECONDITION naming `field`), as
  // in domain/interaction. Required by DecideSendSurvey.
  std::function<absl::StatusOr<crm::v1::StaffRef>(absl::string_view staff_id,
                                                  absl::string_view field)>
      staff;
  // Whether the complaint / interaction with this resource name exists. Required by
  // DecideSendSurvey when the request links one.
  std::function<absl::StatusOr<bool>(absl::string_view complaint)> complaint_exists;
  std::function<absl::StatusOr<bool>(absl::string_view interaction)> interaction_exists;
  // The customer's value tier now, recorded in SurveySent. Optional: none records
  // VALUE_TIER_UNSPECIFIED.
  std::function<absl::StatusOr<crm::v1::ValueTier>(absl::string_view customer_id)> customer_tier;
};

// Checks, after the fields (INVALID_ARGUMENT listing every bad field path): the customer exists
// (NOT_FOUND, CUSTOMER_NOT_FOUND), the survey does not (ALREADY_EXISTS,
// SURVEY_ALREADY_EXISTS), the staff member is known and active, the linked complaint and
// interaction exist (NOT_FOUND, COMPLAINT_NOT_FOUND / INTERACTION_NOT_FOUND). One SurveySent,
// with the staff member's StaffRef, the customer's tier and answer_due_time defaulted to
// now + kDefaultAnswerWindow.
absl::StatusOr<Events> DecideSendSurvey(const State& state,
                                        const crm::v1::SendSurveyRequest& request,
                                        absl::string_view survey_id, const DecideContext& context);

// INVALID_ARGUMENT: csat outside 1-5, nps outside 0-10, neither given, comment too long.
// NOT_FOUND (SURVEY_NOT_FOUND), ABORTED (stale etag), FAILED_PRECONDITION
// (SURVEY_ALREADY_ANSWERED; SURVEY_EXPIRED if expired or context.now >= answer_due_time).
// One SurveyAnswered with answer_time = occurred_at = now.
absl::StatusOr<Events> DecideRecordSurveyAnswer(const State& state,
                                                const crm::v1::RecordSurveyAnswerRequest& request,
                                                const DecideContext& context);

// The deadline watcher's command: one SurveyExpired (occurred_at = the deadline) if the survey
// still awaits its answer, `due` is its answer_due_time (to the microsecond) and now is at or past
// it; otherwise no event.
// NOT_FOUND if the survey does not exist.
absl::StatusOr<Events> DecideExpireSurvey(const State& state, absl::Time due,
                                          const DecideContext& context);

// Applies a stamped event of this survey (same contract as domain/interaction's Apply).
absl::Status Apply(State& state, const Event& event);

// Whether `event` is a survey event (SurveySent, SurveyAnswered, SurveyExpired, or a type this
// build does not know whose aggregate is a survey name).
bool IsSurveyEvent(const Event& event);

// The answer deadline of a survey still awaiting its answer; nullopt otherwise.
std::optional<absl::Time> OpenDeadline(const State& state);

inline absl::StatusOr<int64_t> ParseEtag(absl::string_view etag, absl::string_view field) {
  return crm::status::ParseEtag(etag, field, "Survey.etag");
}

// "customers/{customer_id}/surveys/{survey_id}".
std::string SurveyName(absl::string_view customer_id, absl::string_view survey_id);
// The parts of a survey name; INVALID_ARGUMENT naming `field` if malformed.
absl::StatusOr<ChildName> ParseSurveyName(absl::string_view name, absl::string_view field);

// Event codec of the survey channel (by number; the enums are copies), next to the shared ones
// (StaffRef, Channel: domain/common/event_codec.h).
using crm::domain::ToApi;
using crm::domain::ToEvent;
crm::events::v1::SurveyChannel ToEvent(crm::v1::SurveyChannel channel);
crm::v1::SurveyChannel ToApi(crm::events::v1::SurveyChannel channel);

}  // namespace crm::domain::survey
