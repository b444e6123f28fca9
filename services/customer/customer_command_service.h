// gRPC front end of CustomerCommandHandler: crm.v1.CustomerCommandService on
// the callback API with raw request bytes (parsed by common/rpc so bad fields
// are named), handlers on an Executor. Thread-safe.
#pragma once

#include "common/rpc/executor.h"
#include "crm/v1/customer_service.grpc.pb.h"
#include "services/command/command_router.h"
#include "services/customer/customer_command_handler.h"

namespace crm::services::customer {

using CustomerCommandRawBase =
    crm::v1::CustomerCommandService::WithRawCallbackMethod_RegisterCustomer<
        crm::v1::CustomerCommandService::WithRawCallbackMethod_UpdateCustomer<
            crm::v1::CustomerCommandService::WithRawCallbackMethod_ChangeLifecycleStage<
                crm::v1::CustomerCommandService::WithRawCallbackMethod_AssignOwner<
                    crm::v1::CustomerCommandService::WithRawCallbackMethod_TagCustomer<
                        crm::v1::CustomerCommandService::WithRawCallbackMethod_UntagCustomer<
                            crm::v1::CustomerCommandService::WithRawCallbackMethod_RecordPurchase<
                                crm::v1::CustomerCommandService::Service>>>>>>>;

class CustomerCommandService final : public CustomerCommandRawBase {
 public:
  // Does not take ownership. `router` may be null: every command is handled here.
  CustomerCommandService(CustomerCommandHandler* handler, command::CommandRouter* router,
                         rpc::Executor* executor)
      : handler_(handler), router_(router), executor_(executor) {}

  grpc::ServerUnaryReactor* RegisterCustomer(grpc::CallbackServerContext* ctx,
                                             const grpc::ByteBuffer* in,
                                             grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* UpdateCustomer(grpc::CallbackServerContext* ctx,
                                           const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ChangeLifecycleStage(grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* in,
                                                 grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* AssignOwner(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* TagCustomer(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* in, grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* UntagCustomer(grpc::CallbackServerContext* ctx,
                                          const grpc::ByteBuffer* in,
                                          grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* RecordPurchase(grpc::CallbackServerContext* ctx,
                                           const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out) override;

 private:
  // Parses the request, finds its customer (`route` may fill in a generated id), then runs
  // `handle` here or forwards the call to the replica that writes that customer.
  template <typename Req>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
                                  grpc::ByteBuffer* out, const char* method,
                                  std::function<std::string(Req&)> route,
                                  std::function<absl::StatusOr<crm::v1::CustomerCommandResponse>(
                                      const Req&, const rpc::CallContext&)>
                                      handle);

  CustomerCommandHandler* const handler_;
  command::CommandRouter* const router_;
  rpc::Executor* const executor_;
};

}  // namespace crm::services::customer
