// What a handler knows about its call (CallContext), and the first and last steps of every unary
// call on the gRPC callback API with raw (ByteBuffer) methods: the deadline check and parsing
// (StartCall), and finishing with a result (FinishCall). rpc::ServiceTable
// (common/rpc/service_table.h) is the one user.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rpc/call.h"
#include "common/rpc/executor.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/request_parser.h"
#include "common/status/errors.h"
#include "grpcpp/grpcpp.h"

namespace crm::rpc {

// What a handler knows about its call besides the request.
struct CallContext {
  // The caller's deadline; absl::InfiniteFuture() if none.
  absl::Time deadline = absl::InfiniteFuture();
  // "x-crm-actor" metadata, or "anonymous".
  std::string actor = "anonymous";
  // The verified identity of the caller's client certificate (mutual TLS): its SPIFFE ID, else
  // its only URI SAN, else its subject CN (common/rpc/tls.h). Empty without one. For a call
  // another crm-command replica forwarded, the forwarding replica's identity.
  std::string peer_identity;
  // "x-correlation-id" metadata, or empty.
  std::string correlation_id;
  // For commands: a digest of the request (its type and fields, after routing filled in derived
  // ids), so a request id reused for another request is told from a retry. Empty: not checked.
  std::string request_digest;
  // Set when the client cancelled or the deadline passed; handlers may poll it.
  std::function<bool()> cancelled = [] { return false; };
};

inline std::string Metadata(const grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

inline CallContext MakeCallContext(grpc::CallbackServerContext* ctx,
                                   const std::string& peer_identity) {
  CallContext call;
  call.peer_identity = peer_identity;
  auto deadline = ctx->deadline();
  if (deadline < std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    call.deadline = absl::FromChrono(deadline);
  }
  std::string actor = Metadata(ctx, "x-crm-actor");
  if (!actor.empty() && actor.size() <= 128) call.actor = std::move(actor);
  std::string correlation = Metadata(ctx, "x-correlation-id");
  if (correlation.size() <= 128) call.correlation_id = std::move(correlation);
  call.cancelled = [ctx] { return ctx->IsCancelled(); };
  return call;
}

// The answer to a call that found every worker busy and the queue full.
inline grpc::Status Overloaded() {
  return ToGrpcStatus(status::Error(absl::StatusCode::kResourceExhausted,
                                    "server is overloaded; retry with backoff",
                                    "SERVER_OVERLOADED"));
}

// The first steps of every call on a worker: the deadline check and parsing. False (and the call
// finished with the error) if the call cannot go on.
template <typename Req>
bool StartCall(Call* rpc, const grpc::ByteBuffer* in, Req* request, CallContext* call) {
  *call = MakeCallContext(rpc->ctx(), rpc->peer_identity());
  if (absl::Now() >= call->deadline) {
    rpc->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed"));
    return false;
  }
  if (absl::Status parsed = ParseRequest(*in, request); !parsed.ok()) {
    rpc->Finish(ToGrpcStatus(parsed));
    return false;
  }
  if constexpr (requires(const Req& r) { r.request_id(); }) {
    if (request->request_id().size() <= 128) rpc->set_request_id(request->request_id());
  }
  return true;
}

// Finishes a call with a handler's result.
template <typename Resp>
void FinishCall(Call* rpc, const absl::StatusOr<Resp>& response, grpc::ByteBuffer* out) {
  if (!response.ok()) {
    rpc->Finish(ToGrpcStatus(response.status()));
    return;
  }
  *out = SerializeResponse(*response);
  rpc->Finish(grpc::Status::OK);
}

}  // namespace crm::rpc
