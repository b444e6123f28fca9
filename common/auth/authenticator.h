// Authenticator: who a call comes from, from what the call carries:
//   - its "authorization" metadata, "Bearer <token>", verified by a TokenVerifier (a JWT from the
//     identity provider: jwt_verifier.h); or, without one,
//   - the verified identity of its client certificate (mutual TLS; e.g. a SPIFFE URI SAN), when
//     that identity is one of the configured service identities: programs that prefer a
//     certificate to a token (an order system, the BI reader).
// A token, when present, decides: an invalid token is refused even if the certificate would have
// been accepted, and a valid one wins over the certificate (a call one crm-command replica
// forwards to another carries the caller's token and is the caller's, whatever the replica's own
// certificate says).
//
// Errors: UNAUTHENTICATED with ErrorInfo reason TOKEN_MISSING (no token and no configured
// identity), TOKEN_INVALID (not a Bearer token, or the verifier's), TOKEN_EXPIRED (the
// verifier's). Messages never quote the token.
//
// Thread-safe: const after construction.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/principal.h"
#include "common/auth/token_verifier.h"

namespace crm::auth {

// A client-certificate identity accepted as a service principal.
struct ServiceIdentity {
  std::string identity;  // as the transport reports it, e.g. "spiffe://crm.example/ns/bi/sa/reader"
  std::string subject;   // the principal's subject (the actor of its events)
  std::vector<std::string> scopes;
};

// Reads service identities from a JSON file:
//   {"identities": [{"identity": "spiffe://...", "subject": "bi-reader", "scopes": ["crm.read"]}]}
// INVALID_ARGUMENT naming the problem (unreadable, malformed, an identity twice, a subject that is
// empty, longer than 128 bytes or has control characters).
absl::StatusOr<std::vector<ServiceIdentity>> LoadServiceIdentities(const std::string& path);

class Authenticator {
 public:
  // Does not take ownership of `verifier`, which must outlive this.
  Authenticator(const TokenVerifier* verifier, std::vector<ServiceIdentity> identities);

  // `authorization`: the call's "authorization" metadata ("" if none). `peer_identity`: the
  // verified client-certificate identity ("" without mutual TLS).
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization,
                                         absl::string_view peer_identity) const;

 private:
  const TokenVerifier* const verifier_;
  std::map<std::string, Principal, std::less<>> identities_;
};

}  // namespace crm::auth
