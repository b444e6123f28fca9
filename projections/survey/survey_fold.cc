#include "projections/survey/survey_fold.h"

#include "absl/strings/str_cat.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/common/event_types.h"
#include "domain/survey/survey_aggregate.h"
#include "readmodel/analytics/figures.h"

namespace crm::projections::survey {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Survey;
namespace views = readmodel::survey;

// Adds one to `counter` of every group of `survey`, all time and in the bucket of `at`.
absl::Status Count(const Survey& survey, kv::KvBatch& batch, absl::string_view counter,
                   absl::Time at) {
  for (const std::string& group : views::GroupsOf(survey)) {
    CRM_RETURN_IF_ERROR(readmodel::analytics::CountAt(batch, views::kFiguresPrefix,
                                                      views::FiguresDims(group, counter), at, 1));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SurveyFold::Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) {
  EventEnvelope event;
  if (!event.ParseFromString(record.value)) {
    return absl::DataLossError("record is not a crm.events.v1.EventEnvelope");
  }
  if (domain::IsUnknownEventType(event)) CountUnknown();  // events README, "Readers"
  if (!domain::survey::IsSurveyEvent(event)) return absl::OkStatus();

  const std::string key = views::SurveyKey(event.aggregate());
  Survey survey;
  CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
  if (stored.has_value() && !survey.ParseFromString(*stored)) {
    return absl::InternalError(absl::StrCat("view of ", event.aggregate(), " cannot be decoded"));
  }
  if (event.aggregate_version() <= survey.version()) return absl::OkStatus();  // seen already
  absl::Status applied = domain::survey::Apply(survey, event);
  if (!applied.ok()) {
    return absl::DataLossError(absl::StrCat("event ", event.event_id(), " of ", event.aggregate(),
                                            " cannot be applied: ", applied.message()));
  }
  batch.Put(key, base::SerializeDeterministic(survey));

  // Each count in the bucket of its event's time: the send, the answer, the answer deadline.
  const absl::Time at = base::ToTime(event.occurred_at());
  switch (event.payload_case()) {
    case EventEnvelope::kSurveySent:
      return Count(survey, batch, views::kSent, at);
    case EventEnvelope::kSurveyAnswered: {
      CRM_RETURN_IF_ERROR(Count(survey, batch, views::kAnswered, at));
      // Out-of-range scores (never decided, but a record could carry one) count in no bucket.
      if (survey.has_csat() && survey.csat() >= 1 && survey.csat() <= 5) {
        CRM_RETURN_IF_ERROR(Count(survey, batch, views::CsatCounter(survey.csat()), at));
      }
      if (survey.has_nps() && survey.nps() >= 0 && survey.nps() <= 10) {
        const absl::string_view kind = survey.nps() >= 9   ? views::kPromoters
                                       : survey.nps() >= 7 ? views::kPassives
                                                           : views::kDetractors;
        CRM_RETURN_IF_ERROR(Count(survey, batch, kind, at));
      }
      return absl::OkStatus();
    }
    case EventEnvelope::kSurveyExpired:
      return Count(survey, batch, views::kExpired, at);
    default:
      return absl::OkStatus();  // a newer writer's type: only the version moved
  }
}

}  // namespace crm::projections::survey
