// The gate of a process: who may call it and how often, built from the --auth-* and
// --rate-limit-* flags into the rpc::Gatekeeper every service table asks (common/rpc/gatekeeper.h;
// docs/security.md, "Authentication" and "Limits").
// Not thread-safe: used from main() and Serve only; the Gatekeeper itself is thread-safe.
#pragma once

#include <memory>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "apps/runtime/runtime.h"
#include "common/auth/authenticator.h"
#include "common/auth/jwt_verifier.h"
#include "common/auth/rate_limiter.h"
#include "common/rpc/gatekeeper.h"

namespace crm::runtime {

// Adds --auth-issuer, --auth-audience, --auth-keys, --auth-service-identities,
// --rate-limit-per-principal and --rate-limit-burst.
void AddGateFlags(CLI::App& app, Config& config);

struct Gate {
  std::unique_ptr<auth::JwtVerifier> verifier;         // null: no bearer tokens
  std::unique_ptr<auth::Authenticator> authenticator;  // null: no authentication
  std::unique_ptr<auth::RateLimiter> rate_limiter;     // null: no rate limit
  std::unique_ptr<rpc::Gatekeeper> gatekeeper;         // never null
};

// INVALID_ARGUMENT naming the flag: --auth-issuer, --auth-audience and --auth-keys not given
// together, a key file or service identities file that cannot be used, a malformed rate.
absl::StatusOr<Gate> MakeGate(const Config& config);

// Logs what the gate does (authentication on or off, the rate limit).
void LogGate(const Config& config, const Gate& gate);

}  // namespace crm::runtime
