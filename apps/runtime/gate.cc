#include "apps/runtime/gate.h"

#include "absl/strings/str_cat.h"
#include "common/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace crm::runtime {
namespace {

absl::Status Flag(absl::string_view flag, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", status.message()));
}

}  // namespace

void AddGateFlags(CLI::App& app, Config& config) {
  app.add_option("--auth-issuer", config.auth_issuer,
                 "Authentication: the \"iss\" bearer tokens (JWT, RS256/ES256) must carry; with "
                 "--auth-audience and --auth-keys")
      ->envname("CRM_AUTH_ISSUER");
  app.add_option("--auth-audience", config.auth_audience,
                 "Authentication: the \"aud\" bearer tokens must carry")
      ->envname("CRM_AUTH_AUDIENCE");
  app.add_option("--auth-keys", config.auth_keys,
                 "Authentication: file of the token signing keys, a PEM public key or a JWKS "
                 "(keys chosen by kid); re-read when it changes")
      ->envname("CRM_AUTH_KEYS");
  app.add_option("--auth-service-identities", config.auth_service_identities,
                 "Authentication: JSON file mapping client-certificate identities (mTLS) to "
                 "service principals: {\"identities\": [{\"identity\", \"subject\", "
                 "\"scopes\"}]}")
      ->envname("CRM_AUTH_SERVICE_IDENTITIES");
  app.add_option("--rate-limit-per-principal", config.rate_limit_per_principal,
                 "Calls per principal, e.g. 100/s, 6000/m; over it RESOURCE_EXHAUSTED with "
                 "RetryInfo (empty: no limit)")
      ->envname("CRM_RATE_LIMIT_PER_PRINCIPAL");
  app.add_option("--rate-limit-burst", config.rate_limit_burst,
                 "Calls a principal may make at once before the rate applies (0: the N of "
                 "--rate-limit-per-principal)")
      ->envname("CRM_RATE_LIMIT_BURST")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
}

absl::StatusOr<Gate> MakeGate(const Config& config) {
  Gate gate;
  const bool tokens =
      !config.auth_issuer.empty() || !config.auth_audience.empty() || !config.auth_keys.empty();
  if (tokens) {
    if (config.auth_issuer.empty() || config.auth_audience.empty() || config.auth_keys.empty()) {
      return absl::InvalidArgumentError(
          "--auth-issuer, --auth-audience and --auth-keys go together");
    }
    absl::StatusOr<std::unique_ptr<auth::JwtVerifier>> verifier =
        auth::JwtVerifier::Create({.issuer = config.auth_issuer,
                                   .audience = config.auth_audience,
                                   .keys_file = config.auth_keys});
    if (!verifier.ok()) return Flag("--auth-keys", verifier.status());
    gate.verifier = *std::move(verifier);
  }
  std::vector<auth::ServiceIdentity> identities;
  if (!config.auth_service_identities.empty()) {
    absl::StatusOr<std::vector<auth::ServiceIdentity>> loaded =
        auth::LoadServiceIdentities(config.auth_service_identities);
    if (!loaded.ok()) return Flag("--auth-service-identities", loaded.status());
    identities = *std::move(loaded);
  }
  if (tokens || !config.auth_service_identities.empty()) {
    gate.authenticator =
        std::make_unique<auth::Authenticator>(gate.verifier.get(), std::move(identities));
  }
  if (!config.rate_limit_per_principal.empty()) {
    absl::StatusOr<auth::RateLimit> limit =
        auth::ParseRateLimit(config.rate_limit_per_principal, config.rate_limit_burst);
    if (!limit.ok()) return Flag("--rate-limit-per-principal", limit.status());
    gate.rate_limiter = std::make_unique<auth::RateLimiter>(*std::move(limit));
  }
  gate.gatekeeper =
      std::make_unique<rpc::Gatekeeper>(gate.authenticator.get(), gate.rate_limiter.get());
  return gate;
}

void LogGate(const Config& config, const Gate& gate) {
  if (gate.authenticator == nullptr) {
    spdlog::warn(
        "authentication off: every caller is admitted and the actor of its events is "
        "the x-crm-actor metadata it sends (development only; docs/security.md)");
  } else if (gate.verifier != nullptr) {
    spdlog::info("authentication on: bearer tokens from {} for {}, {} key(s) from {}{}",
                 config.auth_issuer, config.auth_audience, gate.verifier->KeyIds().size(),
                 config.auth_keys,
                 config.auth_service_identities.empty()
                     ? ""
                     : absl::StrCat("; service identities from ", config.auth_service_identities));
  } else {
    spdlog::info("authentication on: service identities from {} only (no bearer tokens)",
                 config.auth_service_identities);
  }
  if (gate.rate_limiter != nullptr) {
    spdlog::info("rate limit per principal: {} (burst {})", gate.rate_limiter->limit().text,
                 gate.rate_limiter->limit().burst);
  }
}

}  // namespace crm::runtime
