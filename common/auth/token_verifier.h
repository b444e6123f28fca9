// TokenVerifier: turns a bearer token into the Principal it proves, or says why it proves
// nothing. JwtVerifier (jwt_verifier.h) is the real one; FakeTokenVerifier serves unit tests of
// what sits above (the Authenticator, rpc::ServiceTable).
//
// Errors: UNAUTHENTICATED with a google.rpc.ErrorInfo (common/status/errors.h) whose reason tells
// the caller what to do next:
//   TOKEN_EXPIRED  the token was valid but its "exp" has passed: get a new one;
//   TOKEN_INVALID  anything else (malformed, signature, algorithm, key id, issuer, audience, not
//                  yet valid, no subject): the token will never be accepted as it is.
// (TOKEN_MISSING, no token at all, is the Authenticator's.)
//
// Thread-safe: Verify may be called from any thread.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth/principal.h"
#include "common/status/errors.h"

namespace crm::auth {

// ErrorInfo reasons of authentication failures (domain crm.v1).
inline constexpr absl::string_view kTokenMissing = "TOKEN_MISSING";
inline constexpr absl::string_view kTokenInvalid = "TOKEN_INVALID";
inline constexpr absl::string_view kTokenExpired = "TOKEN_EXPIRED";

// UNAUTHENTICATED with ErrorInfo{reason}. The message must never quote the token.
inline absl::Status Unauthenticated(absl::string_view reason, absl::string_view message) {
  return status::Error(absl::StatusCode::kUnauthenticated, message, reason);
}

class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  // The principal `token` (the compact serialization, without "Bearer ") proves; UNAUTHENTICATED
  // (TOKEN_INVALID, TOKEN_EXPIRED) otherwise.
  virtual absl::StatusOr<Principal> Verify(absl::string_view token) const = 0;
};

// Accepts exactly the tokens it was given. For tests.
class FakeTokenVerifier final : public TokenVerifier {
 public:
  void Add(std::string token, Principal principal) {
    tokens_[std::move(token)] = std::move(principal);
  }
  absl::StatusOr<Principal> Verify(absl::string_view token) const override {
    auto it = tokens_.find(std::string(token));
    if (it == tokens_.end()) return Unauthenticated(kTokenInvalid, "unknown test token");
    return it->second;
  }

 private:
  std::map<std::string, Principal> tokens_;
};

}  // namespace crm::auth
