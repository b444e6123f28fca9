// gRPC front end of OrgCommandHandler: crm.v1.OrgService on the callback API with raw request
// bytes (parsed by common/rpc so bad fields are named), handlers on an rpc::Executor. Every org
// command goes to the stream "org": with several crm-command replicas, the one that writes that
// stream handles it and the others forward it (command::ServeRouted).
// Thread-safe.
#pragma once

#include "common/rpc/executor.h"
#include "crm/v1/org_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/org/org_command_handler.h"

namespace crm::services::org {

using OrgCommandRawBase = crm::v1::OrgService::WithRawCallbackMethod_CreateDepartment<
    crm::v1::OrgService::WithRawCallbackMethod_UpdateDepartment<
        crm::v1::OrgService::WithRawCallbackMethod_CreateTeam<
            crm::v1::OrgService::WithRawCallbackMethod_UpdateTeam<
                crm::v1::OrgService::WithRawCallbackMethod_AddStaff<
                    crm::v1::OrgService::WithRawCallbackMethod_UpdateStaff<
                        crm::v1::OrgService::WithRawCallbackMethod_DeactivateStaff<
                            crm::v1::OrgService::Service>>>>>>>;

class OrgCommandService final : public OrgCommandRawBase {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  OrgCommandService(OrgCommandHandler* handler, command::CommandRouter* router,
                    rpc::Executor* executor)
      : handler_(handler), router_(router), executor_(executor) {}

  grpc::ServerUnaryReactor* CreateDepartment(grpc::CallbackServerContext* ctx,
                                             const grpc::ByteBuffer* in,
                                             grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* UpdateDepartment(grpc::CallbackServerContext* ctx,
                                             const grpc::ByteBuffer* in,
                                             grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* CreateTeam(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* UpdateTeam(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* AddStaff(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                                     grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* UpdateStaff(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* DeactivateStaff(grpc::CallbackServerContext* ctx,
                                            const grpc::ByteBuffer* in,
                                            grpc::ByteBuffer* out) override;

 private:
  OrgCommandHandler* const handler_;
  command::CommandRouter* const router_;
  rpc::Executor* const executor_;
};

}  // namespace crm::services::org
