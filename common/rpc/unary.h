// What a handler knows about its call (CallContext), and the first and last steps of every unary
// call on the gRPC callback API with raw (ByteBuffer) methods: the deadline check and parsing
// (StartCall), and finishing with a result (FinishCall). Who the caller is was decided before the
// call was queued, by the Gatekeeper (common/rpc/gatekeeper.h). rpc::ServiceTable
// (common/rpc/service_table.h) is the one user.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/grant.h"
#include "common/auth/principal.h"
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
  // Who acts: the authenticated principal's subject (see `principal`); without authentication
  // (development) the "x-crm-actor" metadata as the client wrote it, or "anonymous". Stamped into
  // every event the call appends.
  std::string actor = "anonymous";
  // The verified identity of the caller's client certificate (mutual TLS): its SPIFFE ID, else
  // its only URI SAN, else its subject CN (common/rpc/tls.h). Empty without one. For a call
  // another crm-command replica forwarded, the forwarding replica's identity.
  std::string peer_identity;
  // The authenticated caller (common/rpc/gatekeeper.h); nullopt without authentication.
  std::optional<auth::Principal> principal;
  // What the principal may reach (common/auth/grant.h), given by the ServiceTable's Authorizer
  // before the handler runs; null without authorization (everything is reached). Handlers check
  // rows against it where they read and write them.
  std::shared_ptr<const auth::Grant> grant;
  // The call's "authorization" metadata, passed on when a command calls another replica on the
  // caller's behalf (services/command/command_router.h), which verifies it again. Never logged.
  std::string authorization;
  // "x-correlation-id" metadata, or empty.
  std::string correlation_id;
  // For commands: a digest of the request (its type and fields, after routing filled in derived
  // ids), so a request id reused for another request is told from a retry. Empty: not checked.
  std::string request_digest;
  // Set when the client cancelled or the deadline passed; handlers may poll it.
  std::function<bool()> cancelled = [] { return false; };
};

// The first value of the call's metadata `key`, or "".
inline std::string Metadata(const grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The actor a caller names itself by, without authentication: its "x-crm-actor" metadata (at
// most 128 bytes), or "anonymous".
inline std::string CallerActor(const grpc::CallbackServerContext* ctx) {
  std::string actor = Metadata(ctx, "x-crm-actor");
  if (actor.empty() || actor.size() > 128) return "anonymous";
  return actor;
}

// `peer_identity`: the client certificate's (Call::peer_identity); `principal`: the caller the
// Gatekeeper admitted (nullopt without authentication).
inline CallContext MakeCallContext(grpc::CallbackServerContext* ctx,
                                   const std::string& peer_identity,
                                   std::optional<auth::Principal> principal = std::nullopt) {
  CallContext call;
  call.peer_identity = peer_identity;
  auto deadline = ctx->deadline();
  if (deadline < std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    call.deadline = absl::FromChrono(deadline);
  }
  if (principal.has_value()) {
    // Authenticated: the principal acts, whatever x-crm-actor says.
    call.actor = principal->subject;
    call.principal = std::move(principal);
    call.authorization = Metadata(ctx, "authorization");
  } else {
    call.actor = CallerActor(ctx);
  }
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
bool StartCall(Call* rpc, const grpc::ByteBuffer* in, Req* request, CallContext* call,
               std::optional<auth::Principal> principal) {
  *call = MakeCallContext(rpc->ctx(), rpc->peer_identity(), std::move(principal));
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
