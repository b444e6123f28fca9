// JwtVerifier: verifies signed JSON Web Tokens (RFC 7519, compact JWS) against public keys kept
// in a file, as an identity provider publishes them.
//
// What a token must be to be accepted:
//   - a compact JWS (header.payload.signature), at most 8 KiB, signed (never "alg": "none");
//   - "alg" RS256 (RSA, at least 2048 bits) or ES256 (ECDSA on P-256), and equal to the algorithm
//     of the key that verifies it. The algorithm is pinned by the key, never taken from the
//     token: a symmetric algorithm (HS256 "signed" with the public key's bytes, the classic
//     confusion attack) finds no key and fails, as does any other algorithm;
//   - "kid" naming a key of the key file (a JWKS). A token without "kid" is accepted only when
//     the file holds exactly one key. With a PEM file (one key, no key ids) "kid" is not checked;
//   - keys are only ever the file's: keys named by the token's header ("jwk", "jku", "x5c",
//     "x5u") are ignored and nothing is fetched over the network;
//   - claims: "iss" equal to the configured issuer; "aud" (a string or a list) containing the
//     configured audience; "exp" present and not passed; "nbf", if present, reached; "sub" 1 to
//     128 bytes without control characters. "exp" and "nbf" allow `clock_skew` (default 60 s)
//     for clocks of issuer and server that disagree a little: a token is accepted until
//     exp + skew and from nbf - skew.
// The principal: subject "sub"; kind staff with staff_id "crm_staff_id" when the token has that
// claim (a non-empty string), else service; scopes from "scope" (space-separated) or "scp" (a
// list of strings).
//
// The key file (`keys_file`): either a PEM "PUBLIC KEY" (SubjectPublicKeyInfo, as `openssl pkey
// -pubout` writes it; RSA or EC P-256) or a JWKS document ({"keys": [...]}; one JWK alone is also
// read). In a JWKS, keys with "use": "enc", private keys' private parts, symmetric ("oct") keys and
// algorithms other than RS256/ES256 are left out (logged); key ids must be unique. The file is
// re-read when it changes: its modification time, size and inode are looked at on the first
// Verify after `reload_check_interval` (default 2 s), so a rotation (the new key added, tokens
// signed with it, the old key removed once its tokens have expired) needs no restart. A file
// that cannot be read or parsed at a reload keeps the previous keys (logged as a warning); at
// Create it is an error.
//
// Why Rhonabwy (librhonabwy, Debian librhonabwy-dev) and not libjwt: Debian 12's libjwt (1.10.2)
// cannot read a JWKS and picks no key by "kid" (we would have to turn JWKs into PEM ourselves),
// and its jwt_decode verifies with whatever algorithm the token names, so HS256 against a public
// key's bytes is the caller's problem. Rhonabwy (maintained, GnuTLS underneath) reads PEM, JWK
// and JWKS, selects by "kid", parses with an explicit choice of what to trust
// (r_jwt_advanced_parsen: no unsigned tokens, no keys from the header, no remote fetch) and
// reports the key's type and size, so pinning the algorithm to the key is a few lines here.
// Its types stay in jwt_verifier.cc.
//
// Verified tokens are remembered (by their SHA-256, at most 4096; the memory is dropped whole when
// full) with their principal and "exp": a client sends the same token with every call until it
// expires, and verifying a signature costs tens (RS256) to hundreds (ES256) of microseconds. A
// remembered token is still checked against "exp" on every call, and forgotten when the keys are
// reloaded, so a withdrawn key stops working at once.
//
// Thread-safe: Verify may be called from any thread; keys are swapped atomically on a reload.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth/token_verifier.h"
#include "common/base/clock.h"

namespace crm::auth {

struct JwtVerifierOptions {
  // Required: the exact "iss" and an "aud" entry tokens must carry.
  std::string issuer;
  std::string audience;
  // Required: a PEM public key or a JWKS document (see above).
  std::string keys_file;
  absl::Duration clock_skew = absl::Seconds(60);
  absl::Duration reload_check_interval = absl::Seconds(2);
  // Not owned; must outlive the verifier.
  const base::Clock* clock = base::SystemClock::Get();
};

class JwtVerifier final : public TokenVerifier {
 public:
  // Reads the key file. INVALID_ARGUMENT naming the problem: an empty issuer or audience, a file
  // that cannot be read, holds no usable key, a private key in PEM form, or duplicate key ids.
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(JwtVerifierOptions options);
  ~JwtVerifier() override;

  // See TokenVerifier. Looks at the key file first if `reload_check_interval` has passed since it
  // last did.
  absl::StatusOr<Principal> Verify(absl::string_view token) const override;

  // Re-reads the key file if it changed since it was last read, whatever the interval. OK if it
  // did not change or was read; the error of a failed read otherwise (the previous keys stay).
  absl::Status ReloadIfChanged() const;

  // The ids of the keys in use ("" for a PEM key or a JWK without "kid"), in file order.
  std::vector<std::string> KeyIds() const;

  struct KeySet;  // the keys of one version of the file (jwt_verifier.cc)
  struct FileStamp {
    int64_t mtime_ns = -1;
    int64_t size = -1;
    uint64_t inode = 0;
    bool operator==(const FileStamp&) const = default;
  };

 private:
  JwtVerifier(JwtVerifierOptions options, std::shared_ptr<const KeySet> keys, FileStamp stamp);
  std::shared_ptr<const KeySet> CurrentKeys() const;

  // A verified token, remembered under its SHA-256 (see above).
  struct Verified {
    Principal principal;
    absl::Time expiry;    // "exp"
    uint64_t generation;  // of the keys that verified it (KeySet::generation)
  };
  absl::StatusOr<Principal> VerifyUncached(absl::string_view token, const KeySet& keys,
                                           absl::Time* expiry) const;

  const JwtVerifierOptions options_;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, Verified> cache_ ABSL_GUARDED_BY(cache_mu_);
  mutable absl::Mutex mu_;
  mutable std::shared_ptr<const KeySet> keys_ ABSL_GUARDED_BY(mu_);
  mutable FileStamp stamp_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time last_check_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::auth
