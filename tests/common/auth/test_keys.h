// Keys and tokens for the authentication tests, made with OpenSSL (not with the library under
// test), so that the verifier is checked against an independent signer.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crm::auth::testing {

inline std::string B64(absl::string_view bytes) {
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);  // base64url without padding
  return out;
}

inline std::string BnBytes(const BIGNUM* bn, int pad = 0) {
  std::string out(pad > 0 ? pad : BN_num_bytes(bn), '\0');
  if (pad > 0) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
  } else {
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  }
  return out;
}

// An RSA or EC P-256 key pair.
class TestKey {
 public:
  static TestKey Rsa(size_t bits = 2048) {
    return TestKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits), "RS256");
  }
  static TestKey Ec() {
    return TestKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "ES256");
  }

  const std::string& alg() const { return alg_; }

  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY").
  std::string PublicPem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key_.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
  }

  std::string PrivatePem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
  }

  // The public JWK.
  nlohmann::json Jwk(const std::string& kid) const {
    nlohmann::json jwk;
    if (alg_ == "RS256") {
      BIGNUM* n = nullptr;
      BIGNUM* e = nullptr;
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
      jwk = {{"kty", "RSA"}, {"n", B64(BnBytes(n))}, {"e", B64(BnBytes(e))}};
      BN_free(n);
      BN_free(e);
    } else {
      BIGNUM* x = nullptr;
      BIGNUM* y = nullptr;
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
      jwk = {
          {"kty", "EC"}, {"crv", "P-256"}, {"x", B64(BnBytes(x, 32))}, {"y", B64(BnBytes(y, 32))}};
      BN_free(x);
      BN_free(y);
    }
    if (!kid.empty()) jwk["kid"] = kid;
    jwk["use"] = "sig";
    return jwk;
  }

  // The JWS signature of `input` (ES256: r || s, 64 bytes, as JWS wants it).
  std::string Sign(absl::string_view input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()), 1);
    size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(len, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
              1);
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (alg_ == "RS256") return sig;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    const std::string raw =
        BnBytes(ECDSA_SIG_get0_r(ecdsa), 32) + BnBytes(ECDSA_SIG_get0_s(ecdsa), 32);
    ECDSA_SIG_free(ecdsa);
    return raw;
  }

 private:
  struct Free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  TestKey(EVP_PKEY* key, std::string alg) : key_(key, Free()), alg_(std::move(alg)) {}
  std::shared_ptr<EVP_PKEY> key_;
  std::string alg_;
};

inline std::string SigningInput(const nlohmann::json& header, const nlohmann::json& claims) {
  return absl::StrCat(B64(header.dump()), ".", B64(claims.dump()));
}

// A compact JWS of `claims` signed by `key` with header {"alg": key.alg(), "typ": "JWT", "kid"}.
inline std::string Token(const TestKey& key, const nlohmann::json& claims,
                         const std::string& kid = "", nlohmann::json header = nullptr) {
  if (header.is_null()) {
    header = {{"alg", key.alg()}, {"typ", "JWT"}};
    if (!kid.empty()) header["kid"] = kid;
  }
  const std::string input = SigningInput(header, claims);
  return absl::StrCat(input, ".", B64(key.Sign(input)));
}

// HS256 over `claims` with `secret` as the HMAC key (the confusion attack uses the public key).
inline std::string HmacToken(absl::string_view secret, const nlohmann::json& claims,
                             const std::string& kid = "") {
  nlohmann::json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  if (!kid.empty()) header["kid"] = kid;
  const std::string input = SigningInput(header, claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return absl::StrCat(input, ".", B64(std::string(reinterpret_cast<char*>(mac), len)));
}

// "alg": "none" with an empty (or a given) signature.
inline std::string UnsignedToken(const nlohmann::json& claims, absl::string_view signature = "") {
  return absl::StrCat(SigningInput({{"alg", "none"}, {"typ", "JWT"}}, claims), ".", B64(signature));
}

}  // namespace crm::auth::testing
