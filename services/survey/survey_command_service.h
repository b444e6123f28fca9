// gRPC front end of SurveyCommandHandler: crm.v1.SurveyCommandService, each command routed to the
// crm-command replica that writes its customer's stream (a routed rpc::ServiceTable).
// Thread-safe.
#pragma once

#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "crm/v1/survey_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/survey/survey_command_handler.h"

namespace crm::services::survey {

class SurveyCommandService final : public rpc::ServiceTable {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  SurveyCommandService(SurveyCommandHandler* handler, command::CommandRouter* router,
                       rpc::Executor* executor);
};

}  // namespace crm::services::survey
