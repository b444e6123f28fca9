#include "common/auth/jwt_verifier.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "tests/common/auth/test_keys.h"

namespace crm::auth {
namespace {

using testing::HmacToken;
using testing::TestKey;
using testing::Token;
using testing::UnsignedToken;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://idp.example.com";
constexpr char kAudience[] = "crm";

// Keys are slow to make (RSA); every test shares these.
const TestKey& Rsa1() {
  static const TestKey* key = new TestKey(TestKey::Rsa());
  return *key;
}
const TestKey& Rsa2() {
  static const TestKey* key = new TestKey(TestKey::Rsa());
  return *key;
}
const TestKey& Ec1() {
  static const TestKey* key = new TestKey(TestKey::Ec());
  return *key;
}

std::string Reason(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  if (!status::GetDetail(status, &info)) return "";
  return info.reason();
}

class JwtVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("jwt_verifier_test_", getpid(), "_", counter_++);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to `name` in the test's directory as a rotation would: a new file renamed into
  // place.
  std::string Write(const std::string& name, const std::string& text) {
    const std::filesystem::path path = dir_ / name;
    const std::filesystem::path tmp = dir_ / (name + ".tmp");
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path);
    return path.string();
  }

  static std::string Jwks(std::vector<Json> keys) {
    Json doc = {{"keys", Json::array()}};
    for (Json& key : keys) doc["keys"].push_back(std::move(key));
    return doc.dump();
  }

  absl::StatusOr<std::unique_ptr<JwtVerifier>> Make(const std::string& keys_file) {
    return JwtVerifier::Create({.issuer = kIssuer,
                                .audience = kAudience,
                                .keys_file = keys_file,
                                .clock_skew = absl::Seconds(60),
                                .reload_check_interval = absl::Seconds(2),
                                .clock = &clock_});
  }

  // Claims valid now (issued now, for an hour).
  Json Claims(const std::string& subject = "alice") const {
    const int64_t now = absl::ToUnixSeconds(clock_.Now());
    return {{"iss", kIssuer}, {"aud", kAudience}, {"sub", subject},
            {"iat", now},     {"nbf", now},       {"exp", now + 3600}};
  }

  void ExpectRejected(const JwtVerifier& verifier, const std::string& token,
                      absl::string_view reason = kTokenInvalid) {
    absl::StatusOr<Principal> p = verifier.Verify(token);
    ASSERT_FALSE(p.ok()) << "accepted: " << token;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << p.status();
    EXPECT_EQ(Reason(p.status()), reason) << p.status();
    if (token.size() > 16) {
      EXPECT_EQ(p.status().message().find(token), absl::string_view::npos) << "quotes the token";
    }
  }

  base::FakeClock clock_;
  std::filesystem::path dir_;
  static inline std::atomic<int> counter_{0};
};

TEST_F(JwtVerifierTest, AcceptsRs256FromAPemKeyAndReadsThePrincipal) {
  auto verifier = Make(Write("key.pem", Rsa1().PublicPem()));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  Json claims = Claims("alice@example.com");
  claims["scope"] = "customers.read  customers.write";
  claims["crm_staff_id"] = "s-alice";
  absl::StatusOr<Principal> p = (*verifier)->Verify(Token(Rsa1(), claims, "any-kid"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, "alice@example.com");
  EXPECT_EQ(p->kind, Principal::Kind::kStaff);
  EXPECT_EQ(p->staff_id, "s-alice");
  EXPECT_EQ(p->scopes, (std::vector<std::string>{"customers.read", "customers.write"}));
  EXPECT_TRUE(p->HasScope("customers.read"));
}

TEST_F(JwtVerifierTest, AcceptsEs256FromAJwksByKidAndAServicePrincipal) {
  auto verifier =
      Make(Write("keys.json", Jwks({Rsa1().Jwk("rsa-1"), Ec1().Jwk("ec-1"), Rsa2().Jwk("rsa-2")})));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_EQ((*verifier)->KeyIds(), (std::vector<std::string>{"rsa-1", "ec-1", "rsa-2"}));
  Json claims = Claims("order-system");
  claims["scp"] = {"orders.write"};
  claims["aud"] = {"other", kAudience};
  absl::StatusOr<Principal> p = (*verifier)->Verify(Token(Ec1(), claims, "ec-1"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, "order-system");
  EXPECT_EQ(p->kind, Principal::Kind::kService);
  EXPECT_TRUE(p->staff_id.empty());
  EXPECT_EQ(p->scopes, (std::vector<std::string>{"orders.write"}));
  EXPECT_TRUE((*verifier)->Verify(Token(Rsa2(), Claims(), "rsa-2")).ok());
}

TEST_F(JwtVerifierTest, ExpiryAndNotBeforeAllowTheClockSkewAndNoMore) {
  auto verifier = Make(Write("key.pem", Ec1().PublicPem()));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  Json claims = Claims();
  claims["exp"] = now - 59;
  EXPECT_TRUE((*verifier)->Verify(Token(Ec1(), claims)).ok());
  claims["exp"] = now - 61;
  ExpectRejected(**verifier, Token(Ec1(), claims), kTokenExpired);
  claims = Claims();
  claims["nbf"] = now + 59;
  EXPECT_TRUE((*verifier)->Verify(Token(Ec1(), claims)).ok());
  claims["nbf"] = now + 61;
  ExpectRejected(**verifier, Token(Ec1(), claims));
  claims = Claims();
  claims.erase("exp");  // a token that never expires is not accepted
  ExpectRejected(**verifier, Token(Ec1(), claims));
  claims = Claims();
  claims["exp"] = "tomorrow";
  ExpectRejected(**verifier, Token(Ec1(), claims));
  // A valid token expires as the clock moves.
  const std::string token = Token(Ec1(), Claims());
  EXPECT_TRUE((*verifier)->Verify(token).ok());
  clock_.Advance(absl::Hours(1) + absl::Seconds(61));
  ExpectRejected(**verifier, token, kTokenExpired);
}

TEST_F(JwtVerifierTest, RejectsOtherIssuersAudiencesAndBadSubjects) {
  auto verifier = Make(Write("key.pem", Rsa1().PublicPem()));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  Json claims = Claims();
  claims["iss"] = "https://evil.example.com";
  ExpectRejected(**verifier, Token(Rsa1(), claims));
  claims.erase("iss");
  ExpectRejected(**verifier, Token(Rsa1(), claims));
  claims = Claims();
  claims["aud"] = "billing";
  ExpectRejected(**verifier, Token(Rsa1(), claims));
  claims["aud"] = {"billing", "crm-staging"};
  ExpectRejected(**verifier, Token(Rsa1(), claims));
  claims.erase("aud");
  ExpectRejected(**verifier, Token(Rsa1(), claims));
  claims = Claims();
  claims.erase("sub");
  ExpectRejected(**verifier, Token(Rsa1(), claims));
  ExpectRejected(**verifier, Token(Rsa1(), Claims(std::string(129, 'a'))));
  ExpectRejected(**verifier, Token(Rsa1(), Claims("bad\nsubject")));
}

TEST_F(JwtVerifierTest, RejectsBadSignaturesAndTampering) {
  auto verifier = Make(Write("keys.json", Jwks({Rsa1().Jwk("k1"), Ec1().Jwk("e1")})));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  // Signed by another key under a known kid.
  ExpectRejected(**verifier, Token(Rsa2(), Claims(), "k1"));
  // A valid token whose payload is swapped for another subject's.
  const std::string good = Token(Rsa1(), Claims("alice"), "k1");
  const std::string other = Token(Rsa1(), Claims("mallory"), "k1");
  const size_t a1 = good.find('.'), a2 = good.rfind('.');
  const size_t b1 = other.find('.'), b2 = other.rfind('.');
  ExpectRejected(**verifier, good.substr(0, a1) + other.substr(b1, b2 - b1) + good.substr(a2));
  // The signature cut short, or garbage.
  ExpectRejected(**verifier, good.substr(0, good.size() - 10));
  ExpectRejected(**verifier, good.substr(0, a2) + ".AAAA");
  // A signature by the right key over an RS256 header, but claiming ES256 (and the reverse).
  Json header = {{"alg", "ES256"}, {"kid", "k1"}};
  ExpectRejected(**verifier, Token(Rsa1(), Claims(), "", header));
  header = {{"alg", "RS256"}, {"kid", "e1"}};
  ExpectRejected(**verifier, Token(Ec1(), Claims(), "", header));
}

TEST_F(JwtVerifierTest, RejectsAlgNone) {
  auto verifier = Make(Write("key.pem", Rsa1().PublicPem()));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  ExpectRejected(**verifier, UnsignedToken(Claims()));
  ExpectRejected(**verifier, UnsignedToken(Claims(), "not empty"));
  // "None", "NONE": the algorithm list is exact.
  Json header = {{"alg", "None"}};
  ExpectRejected(**verifier, Token(Rsa1(), Claims(), "", header));
  header = {{"typ", "JWT"}};  // no alg at all
  ExpectRejected(**verifier, Token(Rsa1(), Claims(), "", header));
}

TEST_F(JwtVerifierTest, RejectsHs256SignedWithThePublicKey) {
  // The classic confusion: a verifier that takes the algorithm from the token would check an
  // HMAC keyed with the public key's bytes, which everyone has.
  const std::string pem = Rsa1().PublicPem();
  auto from_pem = Make(Write("key.pem", pem));
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  ExpectRejected(**from_pem, HmacToken(pem, Claims()));
  ExpectRejected(**from_pem, HmacToken(pem, Claims(), "k1"));
  const Json jwk = Rsa1().Jwk("k1");
  auto from_jwks = Make(Write("keys.json", Jwks({jwk})));
  ASSERT_TRUE(from_jwks.ok()) << from_jwks.status();
  ExpectRejected(**from_jwks, HmacToken(jwk.dump(), Claims(), "k1"));
  ExpectRejected(**from_jwks, HmacToken(jwk["n"].get<std::string>(), Claims(), "k1"));
  ExpectRejected(**from_jwks, HmacToken(pem, Claims(), "k1"));
  for (const char* alg : {"HS384", "HS512", "PS256", "RS512", "ES384", "EdDSA"}) {
    Json header = {{"alg", alg}, {"kid", "k1"}};
    ExpectRejected(**from_jwks, Token(Rsa1(), Claims(), "", header));
  }
}

TEST_F(JwtVerifierTest, RejectsUnknownKidsAndKeysCarriedByTheToken) {
  auto verifier = Make(Write("keys.json", Jwks({Rsa1().Jwk("k1"), Rsa2().Jwk("k2")})));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  ExpectRejected(**verifier, Token(Rsa1(), Claims(), "k3"));
  // Several keys: a token must say which.
  ExpectRejected(**verifier, Token(Rsa1(), Claims()));
  // The attacker's own key in the header ("jwk"), signing with it under a known or unknown kid.
  const TestKey attacker = TestKey::Ec();
  for (const char* kid : {"k1", "evil"}) {
    Json header = {{"alg", "ES256"}, {"kid", kid}, {"jwk", attacker.Jwk(kid)}};
    ExpectRejected(**verifier, Token(attacker, Claims(), "", header));
  }
  // The same with an RSA key under a known kid: the algorithm matches, the signature is checked
  // with the file's key, not the header's.
  Json header = {{"alg", "RS256"}, {"kid", "k1"}, {"jwk", Rsa2().Jwk("k1")}};
  ExpectRejected(**verifier, Token(Rsa2(), Claims(), "", header));
  header = {{"alg", "RS256"}, {"kid", "k1"}, {"x5c", {"MIIB"}}, {"x5u", "http://127.0.0.1:1/c"}};
  ExpectRejected(**verifier, Token(Rsa2(), Claims(), "", header));
  header = {{"alg", "RS256"}, {"kid", "evil"}, {"jku", "http://127.0.0.1:1/keys"}};
  ExpectRejected(**verifier, Token(Rsa1(), Claims(), "", header));
  header = {{"alg", "RS256"}, {"kid", "k1"}, {"crit", {"exp"}}};
  ExpectRejected(**verifier, Token(Rsa1(), Claims(), "", header));
}

TEST_F(JwtVerifierTest, RejectsMalformedTokens) {
  auto verifier = Make(Write("key.pem", Rsa1().PublicPem()));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  const std::string good = Token(Rsa1(), Claims());
  EXPECT_TRUE((*verifier)->Verify(good).ok());
  for (const std::string& bad : {std::string(""), std::string("abc"), std::string("a.b"),
                                 std::string("a.b.c.d"), good + ".x", std::string("!!!.@@@.###"),
                                 std::string("e30.e30.e30"), good + " ", std::string(9000, 'a')}) {
    ExpectRejected(**verifier, bad);
  }
  // JSON serialization of a JWS is not accepted.
  ExpectRejected(**verifier, R"({"payload":"e30","signatures":[]})");
  // Claims that are not an object.
  const std::string input = testing::SigningInput({{"alg", "RS256"}}, Json::array({1, 2}));
  ExpectRejected(**verifier, absl::StrCat(input, ".", testing::B64(Rsa1().Sign(input))));
}

TEST_F(JwtVerifierTest, KeyRotationOnDiskWithoutRestart) {
  const std::string path = Write("keys.json", Jwks({Rsa1().Jwk("2024-old")}));
  auto verifier = Make(path);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  const std::string old_token = Token(Rsa1(), Claims(), "2024-old");
  const std::string new_token = Token(Ec1(), Claims(), "2025-new");
  EXPECT_TRUE((*verifier)->Verify(old_token).ok());
  ExpectRejected(**verifier, new_token);

  // The new key is published next to the old one.
  Write("keys.json", Jwks({Rsa1().Jwk("2024-old"), Ec1().Jwk("2025-new")}));
  // Looked at no more often than the check interval...
  clock_.Advance(absl::Seconds(1));
  ExpectRejected(**verifier, new_token);
  // ...and taken once it has passed; the old key still works while it is listed.
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE((*verifier)->Verify(new_token).ok());
  EXPECT_TRUE((*verifier)->Verify(old_token).ok());

  // The old key is withdrawn.
  Write("keys.json", Jwks({Ec1().Jwk("2025-new")}));
  clock_.Advance(absl::Seconds(2));
  ExpectRejected(**verifier, old_token);
  EXPECT_TRUE((*verifier)->Verify(new_token).ok());

  // A broken file (a half-written copy) keeps the keys in use; the next good one is read.
  { std::ofstream(path, std::ios::trunc) << R"({"keys": [{"kty": "RSA", )"; }
  EXPECT_FALSE((*verifier)->ReloadIfChanged().ok());
  EXPECT_TRUE((*verifier)->Verify(new_token).ok());
  Write("keys.json", Jwks({Rsa1().Jwk("2024-old")}));
  EXPECT_TRUE((*verifier)->ReloadIfChanged().ok());
  EXPECT_TRUE((*verifier)->Verify(old_token).ok());
  ExpectRejected(**verifier, new_token);
  // A file rewritten in place (same inode) is noticed too.
  { std::ofstream(path, std::ios::trunc) << Jwks({Ec1().Jwk("2025-new"), Rsa2().Jwk("x")}); }
  EXPECT_TRUE((*verifier)->ReloadIfChanged().ok());
  EXPECT_TRUE((*verifier)->Verify(new_token).ok());
}

TEST_F(JwtVerifierTest, KeyFilesThatAreRefusedOrFiltered) {
  // Private keys never belong on the verifying side.
  EXPECT_FALSE(Make(Write("private.pem", Rsa1().PrivatePem())).ok());
  Json private_jwk = Rsa1().Jwk("k1");
  private_jwk["d"] = "AQAB";
  EXPECT_FALSE(Make(Write("private.json", Jwks({private_jwk}))).ok());
  // Nothing usable.
  EXPECT_FALSE(Make(Write("empty.json", Jwks({}))).ok());
  EXPECT_FALSE(Make(Write("garbage.json", "{not json")).ok());
  EXPECT_FALSE(
      Make(Write("garbage.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
          .ok());
  EXPECT_FALSE(Make((dir_ / "missing.json").string()).ok());
  EXPECT_FALSE(Make(Write("two.pem", Rsa1().PublicPem() + Ec1().PublicPem())).ok());
  const Json oct = {{"kty", "oct"}, {"kid", "sym"}, {"k", testing::B64("secret")}};
  EXPECT_FALSE(Make(Write("oct.json", Jwks({oct}))).ok());
  EXPECT_FALSE(Make(Write("small.pem", TestKey::Rsa(1024).PublicPem())).ok());
  // Duplicate kids are ambiguous; several keys need kids.
  EXPECT_FALSE(Make(Write("dup.json", Jwks({Rsa1().Jwk("k"), Rsa2().Jwk("k")}))).ok());
  EXPECT_FALSE(Make(Write("nokid.json", Jwks({Rsa1().Jwk(""), Rsa2().Jwk("k")}))).ok());
  // Unusable keys next to good ones are left out: a symmetric key, an encryption key, a key for
  // another algorithm.
  Json enc = Rsa2().Jwk("enc");
  enc["use"] = "enc";
  Json ps = Rsa2().Jwk("ps");
  ps["alg"] = "PS256";
  auto verifier = Make(Write("mixed.json", Jwks({oct, enc, ps, Rsa1().Jwk("good")})));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_EQ((*verifier)->KeyIds(), std::vector<std::string>{"good"});
  ExpectRejected(**verifier, HmacToken("secret", Claims(), "sym"));
  ExpectRejected(**verifier, Token(Rsa2(), Claims(), "enc"));
  // A single JWK (not in a set), and a JWK whose x5u would point elsewhere.
  Json single = Ec1().Jwk("");
  single["x5u"] = "http://127.0.0.1:1/cert.pem";
  auto one = Make(Write("single.json", single.dump()));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_TRUE((*one)->Verify(Token(Ec1(), Claims())).ok());
  // Bad options.
  EXPECT_FALSE(JwtVerifier::Create({.issuer = "", .audience = "a", .keys_file = "x"}).ok());
  EXPECT_FALSE(JwtVerifier::Create({.issuer = "i", .audience = "", .keys_file = "x"}).ok());
}

TEST_F(JwtVerifierTest, VerifiesFromManyThreadsWhileKeysRotate) {
  const std::string path = Write("keys.json", Jwks({Rsa1().Jwk("a"), Ec1().Jwk("b")}));
  auto verifier = Make(path);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  const std::string a = Token(Rsa1(), Claims(), "a");
  const std::string b = Token(Ec1(), Claims(), "b");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!(*verifier)->Verify(t % 2 ? a : b).ok()) failures++;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    Write("keys.json", Jwks({i % 2 ? Rsa1().Jwk("a") : Ec1().Jwk("b"),
                             i % 2 ? Ec1().Jwk("b") : Rsa1().Jwk("a")}));
    clock_.Advance(absl::Seconds(2));
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace crm::auth
