// ServeRouted: the unary-call glue of every command service. Like rpc::ServeUnary, plus routing:
// a command whose stream (customer id, or "org") is written by another crm-command replica is
// forwarded there, request bytes unchanged (see command_router.h).
//
// Thread-safe: may be called from any gRPC thread.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/rpc/executor.h"
#include "common/rpc/unary.h"
#include "common/status/errors.h"
#include "services/command/command_executor.h"
#include "services/command/command_router.h"

namespace crm::services::command {

// `route` returns the request's stream key (it may fill in generated ids first); an empty key
// means "handle here" (the handler then rejects the malformed request). `router` may be null
// (single writer).
template <typename Req, typename Resp>
grpc::ServerUnaryReactor* ServeRouted(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* in, grpc::ByteBuffer* out,
    rpc::Executor* executor, CommandRouter* router, const char* method,
    std::function<std::string(Req&)> route,
    std::function<absl::StatusOr<Resp>(const Req&, const rpc::CallContext&)> handle) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  bool queued = executor->TrySubmit([=] {
    Req request;
    rpc::CallContext call;
    if (!rpc::StartCall(ctx, in, reactor, &request, &call)) return;
    const std::string stream_key = route(request);
    call.request_digest = RequestDigest(request);
    std::optional<std::string> owner;
    if (router != nullptr && !stream_key.empty()) owner = router->OwnerOf(stream_key);
    if (!owner.has_value()) {
      rpc::FinishCall(reactor, handle(request, call), out);
      return;
    }
    if (!rpc::Metadata(ctx, CommandRouter::kForwardedHeader).empty()) {
      reactor->Finish(rpc::ToGrpcStatus(status::Error(
          absl::StatusCode::kUnavailable,
          "forwarded to a replica that does not write this stream; replicas disagree on "
          "--replica-index/--peers",
          "NOT_PARTITION_OWNER", {{"owner", *owner}})));
      return;
    }
    router->Forward(*owner, method, ctx, rpc::SerializeResponse(request), out,
                    [reactor](grpc::Status status) { reactor->Finish(status); });
  });
  if (!queued) reactor->Finish(rpc::Overloaded());
  return reactor;
}

}  // namespace crm::services::command
