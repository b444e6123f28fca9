#include "common/rpc/gatekeeper.h"

#include "common/rpc/tls.h"
#include "common/rpc/unary.h"

namespace crm::rpc {

Gatekeeper::Gatekeeper(const auth::Authenticator* authenticator, auth::RateLimiter* rate_limiter)
    : authenticator_(authenticator), rate_limiter_(rate_limiter) {}

absl::StatusOr<std::optional<auth::Principal>> Gatekeeper::Admit(
    const grpc::CallbackServerContext& ctx) const {
  std::optional<auth::Principal> principal;
  if (authenticator_ != nullptr) {
    absl::StatusOr<auth::Principal> authenticated =
        authenticator_->Authenticate(Metadata(&ctx, "authorization"), PeerIdentity(ctx));
    if (!authenticated.ok()) return authenticated.status();
    principal = *std::move(authenticated);
  }
  if (rate_limiter_ != nullptr) {
    std::string key = principal.has_value() ? principal->subject : CallerActor(&ctx);
    if (absl::Status admitted = rate_limiter_->Admit(key); !admitted.ok()) return admitted;
  }
  return principal;
}

}  // namespace crm::rpc
