#include "common/rpc/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "common/rpc/service_table.h"
#include "crm/v1/segment_service.grpc.pb.h"
#include "gtest/gtest.h"

namespace crm::rpc {
namespace {

// ---------------------------------------------------------------------------------------------
// Certificates made with OpenSSL for the tests: a CA and leaves it signs, as PEM files.

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer_key` (self-signed when issuer is null).
Cert MakeCert(EVP_PKEY* key, const std::string& cn, long serial, X509* issuer, EVP_PKEY* issuer_key,
              const std::string& sans) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert.get();
  if (issuer == nullptr) {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
    if (!sans.empty()) AddExtension(cert.get(), signer, NID_subject_alt_name, sans);
  }
  X509_sign(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

std::string Write(const std::string& path, X509* cert, EVP_PKEY* key = nullptr) {
  FILE* f = fopen(path.c_str(), "w");
  if (cert) PEM_write_X509(f, cert);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  return path;
}

struct Files {
  std::string cert;
  std::string key;
};

class Pki {
 public:
  explicit Pki(const std::string& name)
      : dir_(std::filesystem::path(testing::TempDir()) / ("tls_test_" + name)),
        ca_key_(EVP_EC_gen("P-256")),
        ca_(MakeCert(ca_key_.get(), "test CA " + name, 1, nullptr, ca_key_.get(), "")) {
    std::filesystem::create_directories(dir_);
    ca_file_ = Write(dir_ / "ca.pem", ca_.get());
  }
  const std::string& ca_file() const { return ca_file_; }

  Files Issue(const std::string& stem, const std::string& cn, const std::string& sans) {
    Key key(EVP_EC_gen("P-256"));
    Cert cert = MakeCert(key.get(), cn, ++serial_, ca_.get(), ca_key_.get(), sans);
    return {Write(dir_ / (stem + ".pem"), cert.get()),
            Write(dir_ / (stem + ".key"), nullptr, key.get())};
  }

 private:
  std::filesystem::path dir_;
  Key ca_key_;
  Cert ca_;
  std::string ca_file_;
  long serial_ = 100;
};

// ---------------------------------------------------------------------------------------------

TEST(IsLoopbackAddressTest, OnlyAddressesThatReachThisHostOnly) {
  for (const char* yes :
       {"127.0.0.1:50051", "127.0.0.1:0", "127.1.2.3:1", "localhost:50051", "LOCALHOST:1",
        "[::1]:50051", "unix:/run/crm.sock", "unix-abstract:crm"}) {
    EXPECT_TRUE(IsLoopbackAddress(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.7:50051", "128.0.0.1:1",
                         "127.0.0.256:1", "127.0.0:1", "localhost.example:1", "crm-0.crm:50051",
                         "::1:50051", "[::1:50051", "1127.0.0.1:1", ""}) {
    EXPECT_FALSE(IsLoopbackAddress(no)) << no;
  }
}

TEST(TlsCheckTest, BadFilesAreNamedByTheirFlag) {
  Pki pki("check");
  Files server = pki.Issue("server", "server", "IP:127.0.0.1");
  Files other = pki.Issue("other", "other", "IP:127.0.0.1");
  auto message = [](const ServerTlsOptions& options) {
    absl::Status s = CheckServerTls(options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    return std::string(s.message());
  };
  EXPECT_TRUE(CheckServerTls({.cert_file = server.cert, .key_file = server.key}).ok());
  EXPECT_NE(
      message({.cert_file = server.cert, .key_file = other.key}).find("--tls-key: the key in"),
      std::string::npos);
  EXPECT_NE(message({.cert_file = server.cert}).find("go together"), std::string::npos);
  EXPECT_NE(message({.cert_file = "/nonexistent.pem", .key_file = server.key})
                .find("--tls-cert: cannot read /nonexistent.pem"),
            std::string::npos);
  EXPECT_NE(message({.cert_file = server.key, .key_file = server.key}).find("no PEM certificate"),
            std::string::npos);
  EXPECT_NE(message({.cert_file = server.cert, .key_file = server.cert}).find("no unencrypted PEM"),
            std::string::npos);
  EXPECT_NE(message({.cert_file = server.cert, .key_file = server.key, .require_client_cert = true})
                .find("--tls-require-client-cert needs --tls-client-ca"),
            std::string::npos);
  EXPECT_NE(
      message({.cert_file = server.cert, .key_file = server.key, .client_ca_file = server.key})
          .find("--tls-client-ca:"),
      std::string::npos);
  EXPECT_EQ(CheckClientTls({.ca_file = server.key}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckClientTls({.ca_file = pki.ca_file()}).ok());
  EXPECT_FALSE(MakeChannelCredentials({.cert_file = server.cert}).ok());

  absl::StatusOr<std::string> described = DescribeCertificate(server.cert);
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_NE(described->find("CN=server"), std::string::npos) << *described;
  EXPECT_NE(described->find("IP:127.0.0.1"), std::string::npos) << *described;
}

// A server whose one method answers with the caller's peer identity (in CustomerValue.name).
class IdentityServer {
 public:
  explicit IdentityServer(const ServerTlsOptions& tls)
      : executor_(1, 16), table_("crm.v1.SegmentService", &executor_) {
    table_.Unary<crm::v1::GetCustomerValueRequest, crm::v1::CustomerValue>(
        "GetCustomerValue", [](const auto&, const CallContext& call) {
          crm::v1::CustomerValue value;
          value.set_name(call.peer_identity.empty() ? "(none)" : call.peer_identity);
          return base::Future<crm::v1::CustomerValue>(value);
        });
    grpc::ServerBuilder builder;
    auto credentials = MakeServerCredentials(tls);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(&table_);
    server_ = builder.BuildAndStart();
  }
  ~IdentityServer() {
    server_->Shutdown();
    executor_.Stop();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  Executor executor_;
  ServiceTable table_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// The identity the server saw, or "error <code>" when the call failed.
std::string IdentityOf(const std::string& address, const ClientTlsOptions* tls) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(address, tls);
  if (!channel.ok()) return "bad options: " + channel.status().ToString();
  auto stub = crm::v1::SegmentService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  crm::v1::GetCustomerValueRequest request;
  request.set_name("customers/x");
  crm::v1::CustomerValue value;
  grpc::Status status = stub->GetCustomerValue(&context, request, &value);
  if (!status.ok()) return "error " + std::to_string(status.error_code());
  return value.name();
}

TEST(PeerIdentityTest, SpiffeIdElseTheOnlyUriElseTheCommonName) {
  Pki pki("identity");
  Files server = pki.Issue("server", "crm-server", "IP:127.0.0.1,DNS:localhost");
  IdentityServer optional(
      {.cert_file = server.cert, .key_file = server.key, .client_ca_file = pki.ca_file()});
  auto client = [&](const Files& files) {
    return ClientTlsOptions{
        .ca_file = pki.ca_file(), .cert_file = files.cert, .key_file = files.key};
  };
  ClientTlsOptions spiffe =
      client(pki.Issue("spiffe", "bi-reader", "URI:spiffe://crm/ns/crm/sa/bi,DNS:bi.example"));
  ClientTlsOptions uri = client(pki.Issue("uri", "orders", "URI:urn:crm:orders"));
  ClientTlsOptions two_uris = client(pki.Issue("two", "two-uris", "URI:urn:crm:a,URI:urn:crm:b"));
  ClientTlsOptions cn_only = client(pki.Issue("cn", "agent-7", "DNS:agent-7.example"));
  ClientTlsOptions no_cert{.ca_file = pki.ca_file()};

  EXPECT_EQ(IdentityOf(optional.address(), &spiffe), "spiffe://crm/ns/crm/sa/bi");
  EXPECT_EQ(IdentityOf(optional.address(), &uri), "urn:crm:orders");
  EXPECT_EQ(IdentityOf(optional.address(), &two_uris), "two-uris");
  EXPECT_EQ(IdentityOf(optional.address(), &cn_only), "agent-7");
  EXPECT_EQ(IdentityOf(optional.address(), &no_cert), "(none)");
  // Plaintext against a TLS port fails.
  EXPECT_EQ(IdentityOf(optional.address(), nullptr),
            "error " + std::to_string(grpc::StatusCode::UNAVAILABLE));
  // A client certificate from a CA the server does not trust is refused even when optional.
  Pki rogue("rogue");
  ClientTlsOptions intruder{.ca_file = pki.ca_file()};
  Files intruder_files = rogue.Issue("intruder", "intruder", "URI:spiffe://crm/ns/crm/sa/bi");
  intruder.cert_file = intruder_files.cert;
  intruder.key_file = intruder_files.key;
  EXPECT_EQ(IdentityOf(optional.address(), &intruder),
            "error " + std::to_string(grpc::StatusCode::UNAVAILABLE));

  IdentityServer required({.cert_file = server.cert,
                           .key_file = server.key,
                           .client_ca_file = pki.ca_file(),
                           .require_client_cert = true});
  EXPECT_EQ(IdentityOf(required.address(), &no_cert),
            "error " + std::to_string(grpc::StatusCode::UNAVAILABLE));
  EXPECT_EQ(IdentityOf(required.address(), &spiffe), "spiffe://crm/ns/crm/sa/bi");

  // TLS without client certificates: nobody has an identity.
  IdentityServer plain_tls({.cert_file = server.cert, .key_file = server.key});
  EXPECT_EQ(IdentityOf(plain_tls.address(), &spiffe), "(none)");
  // The server's name is checked: a certificate for another name is refused, unless the
  // channel is told which name to expect.
  Files elsewhere = pki.Issue("elsewhere", "elsewhere", "DNS:crm.example");
  IdentityServer misnamed({.cert_file = elsewhere.cert, .key_file = elsewhere.key});
  EXPECT_EQ(IdentityOf(misnamed.address(), &no_cert),
            "error " + std::to_string(grpc::StatusCode::UNAVAILABLE));
  ClientTlsOptions renamed{.ca_file = pki.ca_file(), .server_name = "crm.example"};
  EXPECT_EQ(IdentityOf(misnamed.address(), &renamed), "(none)");
}

}  // namespace
}  // namespace crm::rpc
