// SurveyCommandHandler: executes the survey commands on the shared command executor
// (services/command), supplying the pure decide functions of domain/survey with their lookups:
// the customer and its value tier (services/customer FindCustomer), the staff member
// (services/org StaffDirectory), and the linked complaint or interaction (their AggregateState
// records, on the customer's stream, synced once before saying "unknown").
//
// Thread-safe: commands on different surveys run in parallel.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rpc/unary.h"
#include "crm/v1/survey_service.pb.h"
#include "services/command/command_executor.h"
#include "services/org/staff_directory.h"

namespace crm::services::survey {

class SurveyCommandHandler {
 public:
  // Does not take ownership. `executor` decides against an AggregateState whose fold includes
  // SurveyKind(), the customer kind, the org kinds, the complaint and the interaction kinds.
  explicit SurveyCommandHandler(command::CommandExecutor* executor);

  using Response = crm::v1::SurveyCommandResponse;
  // Errors as documented in proto/crm/v1/README.md ("Surveys"), plus UNAVAILABLE from the
  // executor (retry with the same request_id).
  base::Future<Response> SendSurvey(const crm::v1::SendSurveyRequest& request,
                                    const rpc::CallContext& call);
  base::Future<Response> RecordSurveyAnswer(const crm::v1::RecordSurveyAnswerRequest& request,
                                            const rpc::CallContext& call);
  // The deadline watcher's command (domain::survey::DecideExpireSurvey): SurveyExpired if survey
  // `name` still awaits its answer due at `due` and that time has passed; else nothing.
  base::Future<Response> ExpireSurvey(absl::string_view name, absl::Time due,
                                      const std::string& request_id, const rpc::CallContext& call);

 private:
  command::CommandExecutor* const executor_;
  const org::StaffDirectory staff_;
};

// The id a SendSurvey request sends under: its survey_id if set; else derived from its
// request_id (so a retry, on any replica, targets the same survey); else a new UUID.
std::string SurveyIdFor(const crm::v1::SendSurveyRequest& request);

}  // namespace crm::services::survey
