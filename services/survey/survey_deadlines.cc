#include "services/survey/survey_deadlines.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/uuid.h"
#include "services/survey/survey_kind.h"

namespace crm::services::survey {

absl::string_view SurveyDeadlines::prefix() const { return kDeadlinePrefix; }

std::string SurveyDeadlines::RequestIdFor(absl::string_view survey, absl::Time due) {
  return base::UuidFromName(
      absl::StrCat("crm.ExpireSurvey/", survey, "/", absl::ToUnixMicros(due)));
}

absl::StatusOr<command::DeadlineSource::Due> SurveyDeadlines::Parse(absl::string_view key,
                                                                    absl::string_view) const {
  absl::StatusOr<DeadlineEntry> entry = ParseDeadlineKey(key);
  if (!entry.ok()) return entry.status();
  Due due;
  due.stream_key = entry->customer_id;
  due.what = absl::StrCat("answer deadline of ", entry->survey);
  due.act = [handler = handler_, entry = *std::move(entry)](
                const rpc::CallContext& call) -> absl::StatusOr<std::string> {
    absl::StatusOr<SurveyCommandHandler::Response> expired =
        handler->ExpireSurvey(entry.survey, entry.due, RequestIdFor(entry.survey, entry.due), call)
            .Get();
    if (!expired.ok()) return expired.status();
    return expired->appended_event_count() == 0 ? std::string() : std::string("expired");
  };
  return due;
}

}  // namespace crm::services::survey
