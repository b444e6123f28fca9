#include "common/auth/authenticator.h"

#include <filesystem>
#include <fstream>

#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

std::string Reason(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  if (!status::GetDetail(status, &info)) return "";
  EXPECT_EQ(info.domain(), "crm.v1");
  return info.reason();
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() {
    Principal alice;
    alice.subject = "alice";
    alice.kind = Principal::Kind::kStaff;
    alice.staff_id = "s-alice";
    verifier_.Add("good-token", alice);
  }
  FakeTokenVerifier verifier_;
  Authenticator authenticator_{&verifier_,
                               {{"spiffe://crm.example/bi", "bi-reader", {"crm.read"}}}};
};

TEST_F(AuthenticatorTest, ABearerTokenIsVerified) {
  for (const char* header : {"Bearer good-token", "bearer good-token", "BEARER   good-token"}) {
    absl::StatusOr<Principal> p = authenticator_.Authenticate(header, "");
    ASSERT_TRUE(p.ok()) << header << ": " << p.status();
    EXPECT_EQ(p->subject, "alice");
    EXPECT_EQ(p->staff_id, "s-alice");
  }
  absl::StatusOr<Principal> p = authenticator_.Authenticate("Bearer other", "");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Reason(p.status()), kTokenInvalid);
}

TEST_F(AuthenticatorTest, NoTokenIsMissingAndOtherSchemesAreInvalid) {
  absl::StatusOr<Principal> p = authenticator_.Authenticate("", "");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Reason(p.status()), kTokenMissing);
  for (const char* header : {"Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer ", "Bearer    ",
                             "good-token", "Bearergood-token"}) {
    p = authenticator_.Authenticate(header, "");
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << header;
    EXPECT_EQ(Reason(p.status()), kTokenInvalid) << header;
  }
}

TEST_F(AuthenticatorTest, AConfiguredCertificateIdentityIsAServicePrincipal) {
  absl::StatusOr<Principal> p = authenticator_.Authenticate("", "spiffe://crm.example/bi");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, "bi-reader");
  EXPECT_EQ(p->kind, Principal::Kind::kService);
  EXPECT_TRUE(p->HasScope("crm.read"));
  p = authenticator_.Authenticate("", "spiffe://crm.example/unknown");
  EXPECT_EQ(Reason(p.status()), kTokenMissing);
  // A token decides: a bad one is refused whatever the certificate, a good one wins.
  p = authenticator_.Authenticate("Bearer forged", "spiffe://crm.example/bi");
  EXPECT_EQ(Reason(p.status()), kTokenInvalid);
  p = authenticator_.Authenticate("Bearer good-token", "spiffe://crm.example/bi");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, "alice");
}

TEST(LoadServiceIdentitiesTest, ReadsTheFileAndRefusesBadOnes) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat("service_identities_", getpid());
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& text) {
    const std::string path = (dir / "ids.json").string();
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  };
  auto ids = LoadServiceIdentities(write(R"({"identities": [
      {"identity": "spiffe://crm.example/bi", "subject": "bi-reader", "scopes": ["crm.read"]},
      {"identity": "spiffe://crm.example/orders", "subject": "order-system"}]})"));
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_EQ((*ids)[0].subject, "bi-reader");
  EXPECT_EQ((*ids)[0].scopes, std::vector<std::string>{"crm.read"});
  EXPECT_TRUE((*ids)[1].scopes.empty());
  for (
      const char* bad :
      {"", "[]", R"({"identities": {}})", R"({"identities": [{"identity": "a"}]})",
       R"({"identities": [{"identity": "", "subject": "s"}]})",
       R"({"identities": [{"identity": "a", "subject": ""}]})",
       R"({"identities": [{"identity": "a", "subject": "s", "scopes": "x"}]})",
       R"({"identities": [{"identity": "a", "subject": "s"}, {"identity": "a", "subject": "t"}]})"}) {
    EXPECT_FALSE(LoadServiceIdentities(write(bad)).ok()) << bad;
  }
  EXPECT_FALSE(LoadServiceIdentities((dir / "missing.json").string()).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace crm::auth
