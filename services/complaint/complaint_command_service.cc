#include "services/complaint/complaint_command_service.h"

#include "services/command/routed_serve.h"

namespace crm::services::complaint {

using Response = crm::v1::ComplaintCommandResponse;

template <typename Req>
grpc::ServerUnaryReactor* ComplaintCommandService::ServeNamed(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
    const char* method,
    absl::StatusOr<Response> (ComplaintCommandHandler::*handle)(const Req&,
                                                                const rpc::CallContext&)) {
  return command::ServeRouted<Req, Response>(
      ctx, in, out, executor_, router_, method,
      [](Req& request) { return CustomerIdOf(request.name()); },
      [this, handle](const Req& request, const rpc::CallContext& call) {
        return (handler_->*handle)(request, call);
      });
}

grpc::ServerUnaryReactor* ComplaintCommandService::FileComplaint(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* in,
                                                                 grpc::ByteBuffer* out) {
  return command::ServeRouted<crm::v1::FileComplaintRequest, Response>(
      ctx, in, out, executor_, router_, "/crm.v1.ComplaintCommandService/FileComplaint",
      [](crm::v1::FileComplaintRequest& request) {
        // Fixed before forwarding, so the writer files under the same id.
        request.set_complaint_id(ComplaintIdFor(request));
        return CustomerIdOf(request.parent());
      },
      [this](const crm::v1::FileComplaintRequest& request, const rpc::CallContext& call) {
        return handler_->File(request, call);
      });
}

grpc::ServerUnaryReactor* ComplaintCommandService::AcknowledgeComplaint(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::AcknowledgeComplaintRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/AcknowledgeComplaint",
      &ComplaintCommandHandler::Acknowledge);
}

grpc::ServerUnaryReactor* ComplaintCommandService::AssignComplaint(grpc::CallbackServerContext* ctx,
                                                                   const grpc::ByteBuffer* in,
                                                                   grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::AssignComplaintRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/AssignComplaint",
      &ComplaintCommandHandler::Assign);
}

grpc::ServerUnaryReactor* ComplaintCommandService::StartInvestigation(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::StartInvestigationRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/StartInvestigation",
      &ComplaintCommandHandler::StartInvestigation);
}

grpc::ServerUnaryReactor* ComplaintCommandService::ResolveComplaint(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::ResolveComplaintRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/ResolveComplaint",
      &ComplaintCommandHandler::Resolve);
}

grpc::ServerUnaryReactor* ComplaintCommandService::RecordFollowUpVisit(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::RecordFollowUpVisitRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/RecordFollowUpVisit",
      &ComplaintCommandHandler::RecordFollowUpVisit);
}

grpc::ServerUnaryReactor* ComplaintCommandService::CloseComplaint(grpc::CallbackServerContext* ctx,
                                                                  const grpc::ByteBuffer* in,
                                                                  grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::CloseComplaintRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/CloseComplaint",
      &ComplaintCommandHandler::Close);
}

grpc::ServerUnaryReactor* ComplaintCommandService::ReopenComplaint(grpc::CallbackServerContext* ctx,
                                                                   const grpc::ByteBuffer* in,
                                                                   grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::ReopenComplaintRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/ReopenComplaint",
      &ComplaintCommandHandler::Reopen);
}

grpc::ServerUnaryReactor* ComplaintCommandService::EscalateComplaint(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  return ServeNamed<crm::v1::EscalateComplaintRequest>(
      ctx, in, out, "/crm.v1.ComplaintCommandService/EscalateComplaint",
      &ComplaintCommandHandler::Escalate);
}

}  // namespace crm::services::complaint
