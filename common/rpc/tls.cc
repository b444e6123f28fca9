#include "common/rpc/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace crm::rpc {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// Every certificate of a PEM text, in order.
std::vector<X509Ptr> ParseCertificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = MemoryBio(pem);
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert, &X509_free);
  }
  ERR_clear_error();  // the end of the text reads as an error
  return out;
}

absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(const std::string& flag,
                                                      const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(flag, path);
  if (!pem.ok()) return pem.status();
  std::vector<X509Ptr> certs = ParseCertificates(*pem);
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", path, " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return certs;
}

// Checks a certificate/key pair: both readable, the key matching the first certificate.
absl::Status CheckPair(const std::string& cert_flag, const std::string& cert_file,
                       const std::string& key_flag, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, " and ", key_flag, " go together: give both (", cert_flag, "=\"",
                     cert_file, "\", ", key_flag, "=\"", key_file, "\")"));
  }
  if (cert_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<X509Ptr>> certs = ReadCertificates(cert_flag, cert_file);
  if (!certs.ok()) return certs.status();
  absl::StatusOr<std::string> key_pem = ReadFile(key_flag, key_file);
  if (!key_pem.ok()) return key_pem.status();
  BioPtr bio = MemoryBio(*key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, ": ", key_file, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(certs->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, ": the key in ", key_file, " does not belong to the certificate in ", cert_file));
  }
  return absl::OkStatus();
}

unsigned int RefreshSeconds(absl::Duration interval) {
  const int64_t seconds = absl::ToInt64Seconds(absl::Ceil(interval, absl::Seconds(1)));
  return static_cast<unsigned int>(std::clamp<int64_t>(seconds, 1, 86400));
}

std::string Asn1Time(const ASN1_TIME* time) {
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string Names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return "";
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS || name->type == GEN_URI || name->type == GEN_EMAIL) {
      const ASN1_IA5STRING* text = name->d.ia5;
      names.push_back(absl::StrCat(name->type == GEN_DNS   ? "DNS:"
                                   : name->type == GEN_URI ? "URI:"
                                                           : "email:",
                                   absl::string_view(reinterpret_cast<const char*>(text->data),
                                                     static_cast<size_t>(text->length))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.ip;
      if (ip->length == 4) {
        names.push_back(
            absl::StrCat("IP:", ip->data[0], ".", ip->data[1], ".", ip->data[2], ".", ip->data[3]));
      } else {
        names.push_back("IP:(v6)");
      }
    }
  }
  GENERAL_NAMES_free(sans);
  return absl::StrJoin(names, " ");
}

}  // namespace

absl::Status CheckServerTls(const ServerTlsOptions& options) {
  if (options.cert_file.empty() && options.key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs a certificate and its key: --tls-cert and --tls-key");
  }
  if (absl::Status s = CheckPair("--tls-cert", options.cert_file, "--tls-key", options.key_file);
      !s.ok()) {
    return s;
  }
  if (options.require_client_cert && options.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-require-client-cert needs --tls-client-ca (the CA client certificates are "
        "verified against)");
  }
  if (!options.client_ca_file.empty()) {
    if (auto ca = ReadCertificates("--tls-client-ca", options.client_ca_file); !ca.ok()) {
      return ca.status();
    }
  }
  return absl::OkStatus();
}

absl::Status CheckClientTls(const ClientTlsOptions& options) {
  if (absl::Status s = CheckPair("--tls-cert", options.cert_file, "--tls-key", options.key_file);
      !s.ok()) {
    return s;
  }
  if (!options.ca_file.empty()) {
    if (auto ca = ReadCertificates("--tls-ca", options.ca_file); !ca.ok()) return ca.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options) {
  if (absl::Status s = CheckServerTls(options); !s.ok()) return s;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, options.client_ca_file,
      RefreshSeconds(options.reload_interval));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.client_ca_file.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    // Never a *_BUT_DONT_VERIFY mode: a certificate that was presented has been verified, so
    // its identity can be trusted (PeerIdentity).
    tls.set_cert_request_type(options.require_client_cert
                                  ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsOptions& options) {
  if (absl::Status s = CheckClientTls(options); !s.ok()) return s;
  grpc::experimental::TlsChannelCredentialsOptions tls;
  if (!options.ca_file.empty() || !options.cert_file.empty()) {
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        options.key_file, options.cert_file, options.ca_file,
        RefreshSeconds(options.reload_interval));
    tls.set_certificate_provider(provider);
    // Without a CA file the system's roots verify the server.
    if (!options.ca_file.empty()) tls.watch_root_certs();
    if (!options.cert_file.empty()) tls.watch_identity_key_cert_pairs();
  }
  return grpc::experimental::TlsCredentials(tls);
}

std::shared_ptr<grpc::Channel> NewChannel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const std::string& server_name) {
  grpc::ChannelArguments args;
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel(target, credentials, args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(const std::string& target,
                                                          const ClientTlsOptions* tls) {
  if (tls == nullptr) return grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(*tls);
  if (!credentials.ok()) return credentials.status();
  return NewChannel(target, *credentials, tls->server_name);
}

std::string PeerIdentity(const grpc::AuthContext& auth) {
  if (!auth.IsPeerAuthenticated()) return "";
  auto one = [&](const char* property) -> std::string {
    std::vector<grpc::string_ref> values = auth.FindPropertyValues(property);
    if (values.size() != 1) return "";
    return std::string(values[0].data(), values[0].size());
  };
  if (std::string spiffe = one(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME); !spiffe.empty()) return spiffe;
  if (std::string uri = one(GRPC_PEER_URI_PROPERTY_NAME); !uri.empty()) return uri;
  return one(GRPC_X509_CN_PROPERTY_NAME);
}

std::string PeerIdentity(const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  return auth == nullptr ? "" : PeerIdentity(*auth);
}

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  absl::string_view host;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) return false;
    host = address.substr(1, close - 1);
  } else {
    const size_t colon = address.rfind(':');
    host = colon == absl::string_view::npos ? address : address.substr(0, colon);
    if (host.find(':') != absl::string_view::npos) return false;  // bare IPv6 is ambiguous
  }
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  if (host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
  // 127.0.0.0/8, written as four decimal numbers.
  std::vector<absl::string_view> parts = absl::StrSplit(host, '.');
  if (parts.size() != 4) return false;
  for (absl::string_view part : parts) {
    int n = 0;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &n) || n < 0 || n > 255) {
      return false;
    }
  }
  return parts[0] == "127";
}

absl::StatusOr<std::string> DescribeCertificate(const std::string& pem_file) {
  absl::StatusOr<std::vector<X509Ptr>> certs = ReadCertificates("certificate", pem_file);
  if (!certs.ok()) return certs.status();
  X509* cert = certs->front().get();
  std::string cn;
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    cn.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
              static_cast<size_t>(ASN1_STRING_length(data)));
  }
  std::string serial;
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  return absl::StrCat("CN=", cn, ", serial ", serial, ", not after ",
                      Asn1Time(X509_get0_notAfter(cert)), ", SANs [", Names(cert), "]");
}

}  // namespace crm::rpc
