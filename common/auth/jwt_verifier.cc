#include "common/auth/jwt_verifier.h"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <rhonabwy.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace crm::auth {

using Json = nlohmann::json;

namespace {

constexpr size_t kMaxTokenBytes = 8 * 1024;
constexpr size_t kMaxCachedTokens = 4096;
constexpr size_t kMaxKeyFileBytes = 1 << 20;
constexpr unsigned kMinRsaBits = 2048;

// The two algorithms accepted, each tied to the one key type that may verify it.
enum class Alg { kRs256, kEs256 };

absl::string_view AlgName(Alg alg) { return alg == Alg::kRs256 ? "RS256" : "ES256"; }

struct JwkDeleter {
  void operator()(jwk_t* jwk) const { r_jwk_free(jwk); }
};
struct JwtDeleter {
  void operator()(jwt_t* jwt) const { r_jwt_free(jwt); }
};
struct RFreeDeleter {
  void operator()(char* p) const { r_free(p); }
};
using JwkPtr = std::unique_ptr<jwk_t, JwkDeleter>;
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

JwkPtr NewJwk() {
  jwk_t* jwk = nullptr;
  if (r_jwk_init(&jwk) != RHN_OK) return nullptr;
  return JwkPtr(jwk);
}

absl::Status Invalid(absl::string_view message) { return Unauthenticated(kTokenInvalid, message); }

std::optional<Json> ParseJsonObject(absl::string_view text) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  return json;
}

// A segment of a compact JWS, base64url without padding, decoded.
std::optional<std::string> DecodeSegment(absl::string_view segment) {
  std::string out;
  if (segment.empty() || !absl::WebSafeBase64Unescape(segment, &out)) return std::nullopt;
  return out;
}

bool IsBase64UrlOrDot(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

// A JSON number claim as seconds since the epoch (RFC 7519 NumericDate; fractions allowed).
std::optional<absl::Time> NumericDate(const Json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  const double seconds = it->get<double>();
  if (!(seconds > -1e12 && seconds < 1e12)) return std::nullopt;
  return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
}

}  // namespace

struct JwtVerifier::KeySet {
  struct Key {
    std::string kid;  // "" if none
    Alg alg;
    std::string jwk;  // the public JWK, minimal JSON: imported afresh for each verification
  };
  std::vector<Key> keys;
  bool from_pem = false;
  // Which reading of the file this is (1, 2, ...): remembered tokens name the one that verified
  // them.
  uint64_t generation = 0;
};

namespace {

using KeySet = JwtVerifier::KeySet;

// The algorithm a public key verifies, or why it is left out.
absl::StatusOr<Alg> AlgOfKey(jwk_t* jwk, absl::string_view declared_alg) {
  unsigned int bits = 0;
  const int type = r_jwk_key_type(jwk, &bits, R_FLAG_IGNORE_REMOTE);
  if (type & (R_KEY_TYPE_PRIVATE | R_KEY_TYPE_SYMMETRIC)) {
    return absl::InvalidArgumentError("not a public key");
  }
  if ((type & R_KEY_TYPE_PUBLIC) && (type & R_KEY_TYPE_RSA)) {
    if (bits < kMinRsaBits) {
      return absl::InvalidArgumentError(
          absl::StrCat("an RSA key of ", bits, " bits (at least ", kMinRsaBits, " are required)"));
    }
    if (!declared_alg.empty() && declared_alg != "RS256") {
      return absl::InvalidArgumentError(absl::StrCat("alg ", declared_alg, " (RS256 is accepted)"));
    }
    return Alg::kRs256;
  }
  if ((type & R_KEY_TYPE_PUBLIC) && (type & R_KEY_TYPE_EC)) {
    const char* crv = r_jwk_get_property_str(jwk, "crv");
    if (crv == nullptr || absl::string_view(crv) != "P-256") {
      return absl::InvalidArgumentError(
          absl::StrCat("an EC key on curve ", crv ? crv : "?", " (P-256 is accepted)"));
    }
    if (!declared_alg.empty() && declared_alg != "ES256") {
      return absl::InvalidArgumentError(absl::StrCat("alg ", declared_alg, " (ES256 is accepted)"));
    }
    return Alg::kEs256;
  }
  return absl::InvalidArgumentError("not an RSA or EC P-256 public key");
}

absl::StatusOr<KeySet::Key> KeyFromJwk(const Json& jwk_json) {
  if (!jwk_json.is_object()) return absl::InvalidArgumentError("a key that is not a JSON object");
  auto str = [&](const char* name) -> std::string {
    auto it = jwk_json.find(name);
    return it != jwk_json.end() && it->is_string() ? it->get<std::string>() : "";
  };
  const std::string kty = str("kty");
  if (jwk_json.contains("d")) {
    return absl::FailedPreconditionError("a private key (member \"d\"): publish public keys only");
  }
  if (str("use") == "enc") return absl::InvalidArgumentError("\"use\": \"enc\"");
  // The key rhonabwy sees holds the public parameters and nothing else: no "x5u" it could fetch,
  // no certificate chain to reconcile.
  Json minimal = {{"kty", kty}};
  if (kty == "RSA") {
    minimal["n"] = str("n");
    minimal["e"] = str("e");
  } else if (kty == "EC") {
    minimal["crv"] = str("crv");
    minimal["x"] = str("x");
    minimal["y"] = str("y");
  } else {
    return absl::InvalidArgumentError(absl::StrCat("key type \"", kty, "\" (RSA and EC are read)"));
  }
  KeySet::Key key;
  key.kid = str("kid");
  key.jwk = minimal.dump();
  JwkPtr jwk = NewJwk();
  if (jwk == nullptr || r_jwk_import_from_json_str(jwk.get(), key.jwk.c_str()) != RHN_OK) {
    return absl::InvalidArgumentError("a malformed key");
  }
  CRM_ASSIGN_OR_RETURN(key.alg, AlgOfKey(jwk.get(), str("alg")));
  return key;
}

absl::StatusOr<std::shared_ptr<KeySet>> ParseJwks(const std::string& text) {
  std::optional<Json> doc = ParseJsonObject(text);
  if (!doc.has_value()) return absl::InvalidArgumentError("not a JSON object");
  std::vector<Json> jwks;
  if (auto it = doc->find("keys"); it != doc->end()) {
    if (!it->is_array()) return absl::InvalidArgumentError("\"keys\" is not a list");
    jwks.assign(it->begin(), it->end());
  } else if (doc->contains("kty")) {
    jwks.push_back(*doc);  // one JWK on its own
  } else {
    return absl::InvalidArgumentError("neither a JWKS ({\"keys\": [...]}) nor a JWK");
  }
  auto set = std::make_shared<KeySet>();
  std::map<std::string, int> kids;
  for (size_t i = 0; i < jwks.size(); ++i) {
    absl::StatusOr<KeySet::Key> key = KeyFromJwk(jwks[i]);
    if (key.status().code() == absl::StatusCode::kFailedPrecondition) {
      return absl::InvalidArgumentError(absl::StrCat("key ", i, ": ", key.status().message()));
    }
    if (!key.ok()) {
      spdlog::warn("auth keys: key {} left out: {}", i, std::string(key.status().message()));
      continue;
    }
    if (++kids[key->kid] > 1) {
      return absl::InvalidArgumentError(absl::StrCat("key id \"", key->kid, "\" twice"));
    }
    set->keys.push_back(*std::move(key));
  }
  if (set->keys.size() > 1 && kids.count("") > 0) {
    return absl::InvalidArgumentError(
        "several keys, one without \"kid\": tokens could not name it");
  }
  return set;
}

absl::StatusOr<std::shared_ptr<KeySet>> ParsePem(const std::string& text) {
  if (absl::StrContains(text, "PRIVATE KEY")) {
    return absl::InvalidArgumentError("holds a private key: give the public key only");
  }
  if (!absl::StrContains(text, "-----BEGIN PUBLIC KEY-----")) {
    return absl::InvalidArgumentError("no \"BEGIN PUBLIC KEY\" block");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(text, "-----BEGIN ");
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(
        "several PEM blocks: a PEM file holds one public key (use a "
        "JWKS for several)");
  }
  JwkPtr jwk = NewJwk();
  if (jwk == nullptr ||
      r_jwk_import_from_pem_der(jwk.get(), R_X509_TYPE_PUBKEY, R_FORMAT_PEM,
                                reinterpret_cast<const unsigned char*>(text.data()),
                                text.size()) != RHN_OK) {
    return absl::InvalidArgumentError("a malformed public key");
  }
  std::unique_ptr<char, RFreeDeleter> json(r_jwk_export_to_json_str(jwk.get(), 0));
  if (json == nullptr) return absl::InvalidArgumentError("a public key that cannot be exported");
  std::optional<Json> parsed = ParseJsonObject(json.get());
  if (!parsed.has_value()) return absl::InternalError("rhonabwy exported a JWK that is not JSON");
  parsed->erase("kid");  // rhonabwy may invent one; a PEM key has no id
  CRM_ASSIGN_OR_RETURN(KeySet::Key key, KeyFromJwk(*parsed));
  auto set = std::make_shared<KeySet>();
  set->from_pem = true;
  set->keys.push_back(std::move(key));
  return set;
}

// Reads the key file and its stamp (taken from the open file, so they match).
absl::StatusOr<std::shared_ptr<const KeySet>> LoadKeys(const std::string& path,
                                                       JwtVerifier::FileStamp* stamp,
                                                       uint64_t generation) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat("cannot open ", path));
  struct stat st {};
  std::string text;
  bool ok = ::fstat(fd, &st) == 0 && st.st_size >= 0 &&
            static_cast<size_t>(st.st_size) <= kMaxKeyFileBytes;
  if (ok) {
    text.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ok = done == text.size();
  }
  ::close(fd);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", path, " (at most ", kMaxKeyFileBytes, " bytes)"));
  }
  stamp->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  stamp->size = static_cast<int64_t>(st.st_size);
  stamp->inode = static_cast<uint64_t>(st.st_ino);
  const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(text);
  absl::StatusOr<std::shared_ptr<KeySet>> keys =
      absl::StartsWith(trimmed, "{") ? ParseJwks(text) : ParsePem(text);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", keys.status().message()));
  }
  if ((*keys)->keys.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": no usable key (RSA of 2048 bits or more for RS256, EC P-256 for "
                     "ES256)"));
  }
  (*keys)->generation = generation;
  return std::shared_ptr<const KeySet>(*std::move(keys));
}

absl::StatusOr<JwtVerifier::FileStamp> StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot stat ", path));
  }
  return JwtVerifier::FileStamp{
      .mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
      .size = static_cast<int64_t>(st.st_size),
      .inode = static_cast<uint64_t>(st.st_ino)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(JwtVerifierOptions options) {
  if (options.issuer.empty()) return absl::InvalidArgumentError("no issuer");
  if (options.audience.empty()) return absl::InvalidArgumentError("no audience");
  if (options.keys_file.empty()) return absl::InvalidArgumentError("no key file");
  if (options.clock == nullptr) options.clock = base::SystemClock::Get();
  FileStamp stamp;
  CRM_ASSIGN_OR_RETURN(std::shared_ptr<const KeySet> keys, LoadKeys(options.keys_file, &stamp, 1));
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(options), std::move(keys), stamp));
}

JwtVerifier::JwtVerifier(JwtVerifierOptions options, std::shared_ptr<const KeySet> keys,
                         FileStamp stamp)
    : options_(std::move(options)),
      keys_(std::move(keys)),
      stamp_(stamp),
      last_check_(options_.clock->Now()) {}

JwtVerifier::~JwtVerifier() = default;

std::vector<std::string> JwtVerifier::KeyIds() const {
  std::vector<std::string> ids;
  for (const KeySet::Key& key : CurrentKeys()->keys) ids.push_back(key.kid);
  return ids;
}

absl::Status JwtVerifier::ReloadIfChanged() const {
  absl::MutexLock lock(&mu_);
  last_check_ = options_.clock->Now();
  absl::StatusOr<FileStamp> now = StampOf(options_.keys_file);
  if (!now.ok()) return now.status();
  if (*now == stamp_) return absl::OkStatus();
  FileStamp read;
  absl::StatusOr<std::shared_ptr<const KeySet>> keys =
      LoadKeys(options_.keys_file, &read, keys_->generation + 1);
  // Either way this version of the file has been looked at: a broken file is reported once, and
  // read again when it changes again.
  stamp_ = read.size >= 0 ? read : *now;
  if (!keys.ok()) return keys.status();
  keys_ = *std::move(keys);
  std::vector<std::string> ids;
  for (const KeySet::Key& key : keys_->keys) ids.push_back(key.kid.empty() ? "(no kid)" : key.kid);
  spdlog::info("auth keys reloaded from {}: {}", options_.keys_file, absl::StrJoin(ids, ", "));
  return absl::OkStatus();
}

std::shared_ptr<const JwtVerifier::KeySet> JwtVerifier::CurrentKeys() const {
  {
    absl::MutexLock lock(&mu_);
    if (options_.clock->Now() - last_check_ < options_.reload_check_interval) return keys_;
  }
  if (absl::Status reloaded = ReloadIfChanged(); !reloaded.ok()) {
    spdlog::warn("auth keys: keeping the previous keys: {}", std::string(reloaded.message()));
  }
  absl::MutexLock lock(&mu_);
  return keys_;
}

absl::StatusOr<Principal> JwtVerifier::Verify(absl::string_view token) const {
  if (token.size() > kMaxTokenBytes) return Invalid("the token is longer than 8 KiB");
  std::shared_ptr<const KeySet> keys = CurrentKeys();
  std::string digest(32, '\0');
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token.data(), token.size(), digest.data()) != 0) {
    return absl::InternalError("SHA-256 failed");
  }
  const absl::Time now = options_.clock->Now();
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(digest);
    if (it != cache_.end() && it->second.generation == keys->generation) {
      if (now > it->second.expiry + options_.clock_skew) {
        cache_.erase(it);
        return Unauthenticated(kTokenExpired, "the token has expired");
      }
      return it->second.principal;
    }
  }
  absl::Time expiry;
  absl::StatusOr<Principal> principal = VerifyUncached(token, *keys, &expiry);
  if (principal.ok()) {
    absl::MutexLock lock(&cache_mu_);
    // Full, or holding tokens verified with keys since replaced (never looked up again): start
    // afresh.
    if (cache_.size() >= kMaxCachedTokens ||
        (!cache_.empty() && cache_.begin()->second.generation != keys->generation)) {
      cache_.clear();
    }
    cache_.insert_or_assign(std::move(digest), Verified{*principal, expiry, keys->generation});
  }
  return principal;
}

absl::StatusOr<Principal> JwtVerifier::VerifyUncached(absl::string_view token, const KeySet& keys,
                                                      absl::Time* expiry) const {
  // 1. The shape, read by us: a compact JWS whose header names an accepted algorithm.
  for (char c : token) {
    if (!IsBase64UrlOrDot(c))
      return Invalid("the token is not a compact JWS (header.payload.signature)");
  }
  std::vector<absl::string_view> segments = absl::StrSplit(token, '.');
  if (segments.size() != 3) {
    return Invalid("the token is not a compact JWS (header.payload.signature)");
  }
  if (segments[2].empty()) return Invalid("the token is not signed");
  std::optional<std::string> header_text = DecodeSegment(segments[0]);
  std::optional<Json> header =
      header_text.has_value() ? ParseJsonObject(*header_text) : std::nullopt;
  if (!header.has_value()) return Invalid("the token's header is not a JSON object");
  auto alg_it = header->find("alg");
  const std::string alg_name =
      alg_it != header->end() && alg_it->is_string() ? alg_it->get<std::string>() : "";
  if (alg_name != "RS256" && alg_name != "ES256") {
    return Invalid(absl::StrCat("algorithm \"", alg_name, "\" is not accepted (RS256, ES256)"));
  }
  const Alg alg = alg_name == "RS256" ? Alg::kRs256 : Alg::kEs256;
  if (header->contains("crit") || header->contains("zip")) {
    return Invalid("the token's header has \"crit\" or \"zip\", which are not supported");
  }
  std::string kid;
  if (auto it = header->find("kid"); it != header->end()) {
    if (!it->is_string()) return Invalid("the token's \"kid\" is not a string");
    kid = it->get<std::string>();
  }

  // 2. The key: chosen by kid from the file, and its algorithm must be the token's.
  const KeySet::Key* key = nullptr;
  if (keys.from_pem || (kid.empty() && keys.keys.size() == 1)) {
    key = &keys.keys.front();
  } else if (kid.empty()) {
    return Invalid("the token has no \"kid\" and there are several keys");
  } else {
    for (const KeySet::Key& k : keys.keys) {
      if (k.kid == kid) key = &k;
    }
    if (key == nullptr) return Invalid(absl::StrCat("unknown key id \"", kid, "\""));
  }
  if (key->alg != alg) {
    return Invalid(
        absl::StrCat("algorithm ", alg_name, " does not match the key (", AlgName(key->alg), ")"));
  }

  // 3. The signature, checked by rhonabwy with that key only: no unsigned tokens, no keys from
  // the token's header, nothing fetched.
  jwt_t* raw_jwt = nullptr;
  if (r_jwt_init(&raw_jwt) != RHN_OK) return absl::InternalError("r_jwt_init failed");
  JwtPtr jwt(raw_jwt);
  if (r_jwt_advanced_parsen(jwt.get(), token.data(), token.size(), R_PARSE_NONE,
                            R_FLAG_IGNORE_REMOTE) != RHN_OK ||
      r_jwt_get_type(jwt.get()) != R_JWT_TYPE_SIGN) {
    return Invalid("the token is not a signed JWT");
  }
  const jwa_alg parsed_alg = r_jwt_get_sign_alg(jwt.get());
  if (parsed_alg != (alg == Alg::kRs256 ? R_JWA_ALG_RS256 : R_JWA_ALG_ES256)) {
    return Invalid("the token's algorithm is ambiguous");
  }
  JwkPtr jwk = NewJwk();
  if (jwk == nullptr || r_jwk_import_from_json_str(jwk.get(), key->jwk.c_str()) != RHN_OK) {
    return absl::InternalError("a verified key could not be imported again");
  }
  if (r_jwt_verify_signature(jwt.get(), jwk.get(), R_FLAG_IGNORE_REMOTE) != RHN_OK) {
    return Invalid("bad signature");
  }

  // 4. The claims (of the payload just verified).
  std::optional<std::string> payload_text = DecodeSegment(segments[1]);
  std::optional<Json> claims =
      payload_text.has_value() ? ParseJsonObject(*payload_text) : std::nullopt;
  if (!claims.has_value()) return Invalid("the token's claims are not a JSON object");
  auto string_claim = [&](const char* name) -> std::optional<std::string> {
    auto it = claims->find(name);
    if (it == claims->end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  if (string_claim("iss") != options_.issuer) return Invalid("the token is from another issuer");
  bool audience_ok = false;
  if (auto it = claims->find("aud"); it != claims->end()) {
    if (it->is_string()) audience_ok = it->get<std::string>() == options_.audience;
    if (it->is_array()) {
      for (const Json& a : *it)
        audience_ok |= a.is_string() && a.get<std::string>() == options_.audience;
    }
  }
  if (!audience_ok) return Invalid("the token is for another audience");
  const absl::Time now = options_.clock->Now();
  std::optional<absl::Time> exp = NumericDate(*claims, "exp");
  if (!exp.has_value()) return Invalid("the token has no expiry (\"exp\")");
  if (now > *exp + options_.clock_skew)
    return Unauthenticated(kTokenExpired, "the token has expired");
  *expiry = *exp;
  if (claims->contains("nbf")) {
    std::optional<absl::Time> nbf = NumericDate(*claims, "nbf");
    if (!nbf.has_value()) return Invalid("the token's \"nbf\" is not a number");
    if (now < *nbf - options_.clock_skew) return Invalid("the token is not valid yet (\"nbf\")");
  }

  Principal principal;
  principal.subject = string_claim("sub").value_or("");
  if (!IsValidSubject(principal.subject)) {
    return Invalid(
        "the token's subject (\"sub\") is missing, longer than 128 bytes or has control "
        "characters");
  }
  if (std::optional<std::string> staff = string_claim("crm_staff_id"); staff && !staff->empty()) {
    if (!IsValidSubject(*staff)) return Invalid("the token's \"crm_staff_id\" is malformed");
    principal.kind = Principal::Kind::kStaff;
    principal.staff_id = *staff;
  }
  if (std::optional<std::string> scope = string_claim("scope")) {
    principal.scopes = absl::StrSplit(*scope, ' ', absl::SkipEmpty());
  } else if (auto it = claims->find("scp"); it != claims->end() && it->is_array()) {
    for (const Json& s : *it) {
      if (s.is_string()) principal.scopes.push_back(s.get<std::string>());
    }
  }
  return principal;
}

}  // namespace crm::auth
