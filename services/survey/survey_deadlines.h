// SurveyDeadlines: survey answer deadlines as a source of the server's deadline watcher
// (services/command/deadline_watcher.h). A due entry of the survey deadline index
// (survey_kind.h) gets the ExpireSurvey command through the handler, with a request id derived
// from the survey and its due time; the rule appends SurveyExpired only to a survey still
// awaiting its answer, so running it again (another scan, another replica, a restart) adds
// nothing.
//
// Thread-safe: immutable.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/command/deadline_watcher.h"
#include "services/survey/survey_command_handler.h"

namespace crm::services::survey {

class SurveyDeadlines final : public command::DeadlineSource {
 public:
  // Does not take ownership.
  explicit SurveyDeadlines(SurveyCommandHandler* handler) : handler_(handler) {}

  absl::string_view prefix() const override;
  absl::StatusOr<Due> Parse(absl::string_view key, absl::string_view value) const override;

  // The request id of the ExpireSurvey of one deadline: a UUID derived from the survey and the
  // due time (microseconds).
  static std::string RequestIdFor(absl::string_view survey, absl::Time due);

 private:
  SurveyCommandHandler* const handler_;
};

}  // namespace crm::services::survey
