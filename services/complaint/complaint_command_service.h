// gRPC front end of ComplaintCommandHandler: crm.v1.ComplaintCommandService on the callback API
// with raw request bytes (parsed by common/rpc so bad fields are named), handlers on an
// Executor, and each command forwarded to the replica that writes its customer's stream
// (services/command/routed_serve.h). Thread-safe.
#pragma once

#include <functional>
#include <string>

#include "common/rpc/executor.h"
#include "crm/v1/complaint_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/complaint/complaint_command_handler.h"

namespace crm::services::complaint {

using ComplaintCommandRawBase =
    crm::v1::ComplaintCommandService::WithRawCallbackMethod_FileComplaint<
        crm::v1::ComplaintCommandService::WithRawCallbackMethod_AcknowledgeComplaint<
            crm::v1::ComplaintCommandService::WithRawCallbackMethod_AssignComplaint<
                crm::v1::ComplaintCommandService::WithRawCallbackMethod_StartInvestigation<
                    crm::v1::ComplaintCommandService::WithRawCallbackMethod_ResolveComplaint<
                        crm::v1::ComplaintCommandService::WithRawCallbackMethod_RecordFollowUpVisit<
                            crm::v1::ComplaintCommandService::WithRawCallbackMethod_CloseComplaint<
                                crm::v1::ComplaintCommandService::
                                    WithRawCallbackMethod_ReopenComplaint<
                                        crm::v1::ComplaintCommandService::
                                            WithRawCallbackMethod_EscalateComplaint<
                                                crm::v1::ComplaintCommandService::Service>>>>>>>>>;

class ComplaintCommandService final : public ComplaintCommandRawBase {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  ComplaintCommandService(ComplaintCommandHandler* handler, command::CommandRouter* router,
                          rpc::Executor* executor)
      : handler_(handler), router_(router), executor_(executor) {}

  grpc::ServerUnaryReactor* FileComplaint(grpc::CallbackServerContext* ctx,
                                          const grpc::ByteBuffer* in,
                                          grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* AcknowledgeComplaint(grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* AssignComplaint(grpc::CallbackServerContext* ctx,
                                            const grpc::ByteBuffer* in,
                                            grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* StartInvestigation(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* in,
                                               grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ResolveComplaint(grpc::CallbackServerContext* ctx,
                                             const grpc::ByteBuffer* in,
                                             grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* RecordFollowUpVisit(grpc::CallbackServerContext* ctx,
                                                const grpc::ByteBuffer* in,
                                                grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* CloseComplaint(grpc::CallbackServerContext* ctx,
                                           const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ReopenComplaint(grpc::CallbackServerContext* ctx,
                                            const grpc::ByteBuffer* in,
                                            grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* EscalateComplaint(grpc::CallbackServerContext* ctx,
                                              const grpc::ByteBuffer* in,
                                              grpc::ByteBuffer* out) override;

 private:
  // A command addressed by `name` (customers/{cid}/complaints/{id}).
  template <typename Req>
  grpc::ServerUnaryReactor* ServeNamed(
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
      const char* method,
      absl::StatusOr<crm::v1::ComplaintCommandResponse> (ComplaintCommandHandler::*handle)(
          const Req&, const rpc::CallContext&));

  ComplaintCommandHandler* const handler_;
  command::CommandRouter* const router_;
  rpc::Executor* const executor_;
};

}  // namespace crm::services::complaint
