#include "projections/survey/survey_fold.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "common/base/proto_util.h"
#include "common/base/status_macros.h"
#include "crm/events/v1/envelope.pb.h"
#include "domain/common/event_types.h"
#include "domain/survey/survey_aggregate.h"

namespace crm::projections::survey {
namespace {

using crm::events::v1::EventEnvelope;
using crm::v1::Survey;
using crm::v1::SurveyFigures;
namespace views = readmodel::survey;

// Adds to the stored counts of every group of `survey`.
absl::Status Count(const Survey& survey, kv::KvBatch& batch,
                   const std::function<void(SurveyFigures&)>& add) {
  for (const std::string& group : views::GroupsOf(survey)) {
    const std::string key = views::FiguresKey(group);
    SurveyFigures figures;
    CRM_ASSIGN_OR_RETURN(auto stored, batch.Get(key));
    if (stored.has_value() && !figures.ParseFromString(*stored)) {
      return absl::InternalError(absl::StrCat("survey figures ", key, " cannot be decoded"));
    }
    while (figures.csat_counts_size() < 5) figures.add_csat_counts(0);
    add(figures);
    batch.Put(key, base::SerializeDeterministic(figures));
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

  switch (event.payload_case()) {
    case EventEnvelope::kSurveySent:
      return Count(survey, batch, [](SurveyFigures& f) { f.set_sent(f.sent() + 1); });
    case EventEnvelope::kSurveyAnswered:
      return Count(survey, batch, [&survey](SurveyFigures& f) {
        f.set_answered(f.answered() + 1);
        // Out-of-range scores (never decided, but a record could carry one) count in no bucket.
        if (survey.has_csat() && survey.csat() >= 1 && survey.csat() <= 5) {
          f.set_csat_answers(f.csat_answers() + 1);
          f.set_csat_counts(survey.csat() - 1, f.csat_counts(survey.csat() - 1) + 1);
        }
        if (survey.has_nps() && survey.nps() >= 0 && survey.nps() <= 10) {
          f.set_nps_answers(f.nps_answers() + 1);
          if (survey.nps() >= 9) {
            f.set_promoters(f.promoters() + 1);
          } else if (survey.nps() >= 7) {
            f.set_passives(f.passives() + 1);
          } else {
            f.set_detractors(f.detractors() + 1);
          }
        }
      });
    case EventEnvelope::kSurveyExpired:
      return Count(survey, batch, [](SurveyFigures& f) { f.set_expired(f.expired() + 1); });
    default:
      return absl::OkStatus();  // a newer writer's type: only the version moved
  }
}

}  // namespace crm::projections::survey
