#include "services/customer/customer_command_service.h"

#include "common/rpc/unary.h"
#include "domain/customer/customer_aggregate.h"
#include "services/command/routed_serve.h"

namespace crm::services::customer {
namespace {

using Response = crm::v1::CustomerCommandResponse;

// The customer id in a resource name; empty (handled here, which rejects it) if malformed.
std::string IdOf(const std::string& name) {
  auto id = domain::customer::ParseCustomerName(name, "name");
  return id.ok() ? *id : "";
}

}  // namespace

template <typename Req>
grpc::ServerUnaryReactor* CustomerCommandService::Serve(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
    const char* method, std::function<std::string(Req&)> route,
    std::function<absl::StatusOr<Response>(const Req&, const rpc::CallContext&)> handle) {
  return command::ServeRouted<Req, Response>(ctx, in, out, executor_, router_, method,
                                             std::move(route), std::move(handle));
}

grpc::ServerUnaryReactor* CustomerCommandService::RegisterCustomer(grpc::CallbackServerContext* ctx,
                                                                   const grpc::ByteBuffer* in,
                                                                   grpc::ByteBuffer* out) {
  return Serve<crm::v1::RegisterCustomerRequest>(
      ctx, in, out, "/crm.v1.CustomerCommandService/RegisterCustomer",
      [](crm::v1::RegisterCustomerRequest& request) {
        request.set_customer_id(CustomerIdFor(request));
        return request.customer_id();
      },
      [this](const auto& request, const auto& call) { return handler_->Register(request, call); });
}

grpc::ServerUnaryReactor* CustomerCommandService::UpdateCustomer(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* in,
                                                                 grpc::ByteBuffer* out) {
  return Serve<crm::v1::UpdateCustomerRequest>(
      ctx, in, out, "/crm.v1.CustomerCommandService/UpdateCustomer",
      [](crm::v1::UpdateCustomerRequest& request) { return IdOf(request.customer().name()); },
      [this](const auto& request, const auto& call) { return handler_->Update(request, call); });
}

grpc::ServerUnaryReactor* CustomerCommandService::ChangeLifecycleStage(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return Serve<crm::v1::ChangeLifecycleStageRequest>(
      ctx, in, out, "/crm.v1.CustomerCommandService/ChangeLifecycleStage",
      [](crm::v1::ChangeLifecycleStageRequest& request) { return IdOf(request.name()); },
      [this](const auto& request, const auto& call) {
        return handler_->ChangeLifecycleStage(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::AssignOwner(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* in,
                                                              grpc::ByteBuffer* out) {
  return Serve<crm::v1::AssignOwnerRequest>(
      ctx, in, out, "/crm.v1.CustomerCommandService/AssignOwner",
      [](crm::v1::AssignOwnerRequest& request) { return IdOf(request.name()); },
      [this](const auto& request, const auto& call) {
        return handler_->AssignOwner(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::TagCustomer(grpc::CallbackServerContext* ctx,
                                                              const grpc::ByteBuffer* in,
                                                              grpc::ByteBuffer* out) {
  return Serve<crm::v1::TagCustomerRequest>(
      ctx, in, out, "/crm.v1.CustomerCommandService/TagCustomer",
      [](crm::v1::TagCustomerRequest& request) { return IdOf(request.name()); },
      [this](const auto& request, const auto& call) { return handler_->Tag(request, call); });
}

grpc::ServerUnaryReactor* CustomerCommandService::UntagCustomer(grpc::CallbackServerContext* ctx,
                                                                const grpc::ByteBuffer* in,
                                                                grpc::ByteBuffer* out) {
  return Serve<crm::v1::UntagCustomerRequest>(
      ctx, in, out, "/crm.v1.CustomerCommandService/UntagCustomer",
      [](crm::v1::UntagCustomerRequest& request) { return IdOf(request.name()); },
      [this](const auto& request, const auto& call) { return handler_->Untag(request, call); });
}

grpc::ServerUnaryReactor* CustomerCommandService::RecordPurchase(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* in,
                                                                 grpc::ByteBuffer* out) {
  return Serve<crm::v1::RecordPurchaseRequest>(
      ctx, in, out, "/crm.v1.CustomerCommandService/RecordPurchase",
      [](crm::v1::RecordPurchaseRequest& request) { return IdOf(request.name()); },
      [this](const auto& request, const auto& call) {
        return handler_->RecordPurchase(request, call);
      });
}

}  // namespace crm::services::customer
