// How the command side folds surveys: the AggregateKind of crm.v1.Survey (its events, the
// domain's Apply) and the answer-deadline index the deadline watcher scans
// (services/command/deadline_watcher.h):
//   survey-due/<due time: 20-digit unix microseconds>/<survey name> -> ""
// holding the deadline of every survey still awaiting its answer, written in the same batch as
// the survey's state.
//
// Thread-safe: immutable.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crm/v1/survey.pb.h"
#include "services/command/aggregate_state.h"

namespace crm::services::survey {

inline constexpr absl::string_view kDeadlinePrefix = "survey-due/";

// The kind to register with command::AggregateStateFold and to pass to CommandExecutor::Execute.
const command::TypedKind<crm::v1::Survey>& SurveyKind();

// The index key of a survey's answer deadline.
std::string DeadlineKey(absl::Time due, absl::string_view survey);

struct DeadlineEntry {
  std::string survey;       // "customers/{cid}/surveys/{id}"
  std::string customer_id;  // the stream key
  absl::Time due;           // to the microsecond
};
// DATA_LOSS if the key is malformed.
absl::StatusOr<DeadlineEntry> ParseDeadlineKey(absl::string_view key);

}  // namespace crm::services::survey
