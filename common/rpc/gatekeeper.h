// Gatekeeper: who is calling and whether they may call now, decided for every call of every
// ServiceTable (common/rpc/service_table.h) on the gRPC thread, before the call is queued for a
// worker. A call refused here takes no queue slot and no worker, and nothing of it runs: no
// handler, no parsing, nothing appended.
//
//   1. Authentication (when an auth::Authenticator is configured): the call's "authorization:
//      Bearer <token>" metadata, or its verified client-certificate identity, must prove a
//      principal; else UNAUTHENTICATED (reasons TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED;
//      common/auth/authenticator.h). The principal then is the call's
//      (CallContext::principal) and its subject the actor of every event the call appends; the
//      "x-crm-actor" metadata is ignored.
//      Without an Authenticator (development, the default) every caller is admitted and the actor
//      is the "x-crm-actor" metadata as the client wrote it, or "anonymous".
//   2. The per-principal rate limit (when an auth::RateLimiter is configured): RESOURCE_EXHAUSTED
//      with RetryInfo and reason RATE_LIMITED for a principal over its rate
//      (common/auth/rate_limiter.h). Keyed by the principal's subject; without authentication, by
//      the unverified "x-crm-actor" metadata (development only: a client can change it).
//
// Health (grpc.health.v1) and reflection are separate services and never pass through here:
// probes need no credentials.
//
// Thread-safe: const after construction (the RateLimiter is thread-safe itself).
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/auth/authenticator.h"
#include "common/auth/principal.h"
#include "common/auth/rate_limiter.h"
#include "grpcpp/grpcpp.h"

namespace crm::rpc {

class Gatekeeper {
 public:
  // Neither is owned; both may be null (no authentication, no rate limit) and must outlive this.
  Gatekeeper(const auth::Authenticator* authenticator, auth::RateLimiter* rate_limiter);

  // The caller's principal (nullopt without authentication), or the error to answer the call
  // with: UNAUTHENTICATED or RESOURCE_EXHAUSTED as above.
  absl::StatusOr<std::optional<auth::Principal>> Admit(
      const grpc::CallbackServerContext& ctx) const;

  bool authenticates() const { return authenticator_ != nullptr; }

 private:
  const auth::Authenticator* const authenticator_;
  auth::RateLimiter* const rate_limiter_;
};

// The verified identity of the call's client certificate, which --auth-service-identities maps to
// a service principal, is common/rpc/tls.h's PeerIdentity.

}  // namespace crm::rpc
