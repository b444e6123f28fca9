#include "common/auth/authenticator.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace crm::auth {

absl::StatusOr<std::vector<ServiceIdentity>> LoadServiceIdentities(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot open ", path));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto fail = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  };
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("identities") ||
      !doc["identities"].is_array()) {
    return fail(
        "expected {\"identities\": [{\"identity\": ..., \"subject\": ..., \"scopes\": [...]}]}");
  }
  std::vector<ServiceIdentity> out;
  for (const nlohmann::json& entry : doc["identities"]) {
    if (!entry.is_object() || !entry.contains("identity") || !entry["identity"].is_string() ||
        !entry.contains("subject") || !entry["subject"].is_string()) {
      return fail("every entry needs \"identity\" and \"subject\" strings");
    }
    ServiceIdentity id{
        entry["identity"].get<std::string>(), entry["subject"].get<std::string>(), {}};
    if (id.identity.empty()) return fail("an empty identity");
    if (!IsValidSubject(id.subject)) {
      return fail(
          absl::StrCat("subject of ", id.identity, ": 1 to 128 bytes without control characters"));
    }
    if (entry.contains("scopes")) {
      if (!entry["scopes"].is_array()) return fail("\"scopes\" must be a list of strings");
      for (const nlohmann::json& s : entry["scopes"]) {
        if (!s.is_string()) return fail("\"scopes\" must be a list of strings");
        id.scopes.push_back(s.get<std::string>());
      }
    }
    for (const ServiceIdentity& seen : out) {
      if (seen.identity == id.identity) return fail(absl::StrCat(id.identity, " twice"));
    }
    out.push_back(std::move(id));
  }
  return out;
}

Authenticator::Authenticator(const TokenVerifier* verifier, std::vector<ServiceIdentity> identities)
    : verifier_(verifier) {
  for (ServiceIdentity& id : identities) {
    Principal p;
    p.subject = std::move(id.subject);
    p.kind = Principal::Kind::kService;
    p.scopes = std::move(id.scopes);
    identities_.emplace(std::move(id.identity), std::move(p));
  }
}

absl::StatusOr<Principal> Authenticator::Authenticate(absl::string_view authorization,
                                                      absl::string_view peer_identity) const {
  if (authorization.empty()) {
    if (!peer_identity.empty()) {
      auto it = identities_.find(peer_identity);
      if (it != identities_.end()) return it->second;
      return Unauthenticated(kTokenMissing,
                             "no bearer token, and the client certificate's identity is not a "
                             "configured service identity");
    }
    return Unauthenticated(kTokenMissing,
                           "authentication required: send \"authorization: Bearer <token>\"");
  }
  // RFC 6750: "Bearer" (any case), one or more spaces, the token.
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return Unauthenticated(kTokenInvalid, "the authorization metadata is not \"Bearer <token>\"");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(kScheme.size()));
  if (token.empty()) {
    return Unauthenticated(kTokenInvalid, "the authorization metadata is not \"Bearer <token>\"");
  }
  return verifier_->Verify(token);
}

}  // namespace crm::auth
