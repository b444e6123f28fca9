#include "services/customer/customer_command_service.h"

#include "common/rpc/unary.h"

namespace crm::services::customer {

using Response = crm::v1::CustomerCommandResponse;

grpc::ServerUnaryReactor* CustomerCommandService::RegisterCustomer(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::RegisterCustomerRequest, Response>(
      ctx, in, out, executor_, [this](const auto& request, const auto& call) {
        return handler_->Register(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::UpdateCustomer(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::UpdateCustomerRequest, Response>(
      ctx, in, out, executor_, [this](const auto& request, const auto& call) {
        return handler_->Update(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::ChangeLifecycleStage(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::ChangeLifecycleStageRequest, Response>(
      ctx, in, out, executor_, [this](const auto& request, const auto& call) {
        return handler_->ChangeLifecycleStage(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::AssignOwner(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::AssignOwnerRequest, Response>(
      ctx, in, out, executor_, [this](const auto& request, const auto& call) {
        return handler_->AssignOwner(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::TagCustomer(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::TagCustomerRequest, Response>(
      ctx, in, out, executor_, [this](const auto& request, const auto& call) {
        return handler_->Tag(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::UntagCustomer(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::UntagCustomerRequest, Response>(
      ctx, in, out, executor_, [this](const auto& request, const auto& call) {
        return handler_->Untag(request, call);
      });
}

grpc::ServerUnaryReactor* CustomerCommandService::RecordPurchase(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in,
    grpc::ByteBuffer* out) {
  return rpc::ServeUnary<crm::v1::RecordPurchaseRequest, Response>(
      ctx, in, out, executor_, [this](const auto& request, const auto& call) {
        return handler_->RecordPurchase(request, call);
      });
}

}  // namespace crm::services::customer
