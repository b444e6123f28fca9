// Transport security of the gRPC ports and of the channels this process opens: TLS server
// credentials (optionally mutual TLS), TLS channel credentials for clients (crm-command replicas
// forwarding to each other, crmctl), the verified identity of a call's client certificate, and
// the loopback test behind the safe default (a plaintext port listens on loopback only unless
// the operator says --insecure).
//
// Certificates and keys are PEM files, watched by gRPC's FileWatcherCertificateProvider: a file
// replaced on disk is read again within `reload_interval`, and new handshakes use it; connections
// already open keep the certificate they were made with. Replace the key and the certificate
// together (write new files, then rename them over the old ones): the provider skips a pair whose
// files changed while it read them, and a key that does not match the certificate fails new
// handshakes until both are in place.
//
// The files are checked once when the credentials are made (readable, PEM, the key matches the
// certificate, the CA holds a certificate), so a bad configuration fails start-up with a message
// naming the flag, instead of failing every handshake later.
//
// Thread-safe: free functions; the credentials they return may be shared by any number of
// servers and channels.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace crm::rpc {

// How a server port speaks TLS.
struct ServerTlsOptions {
  // The server's certificate chain and private key (PEM). Both or neither; neither: plaintext.
  std::string cert_file;
  std::string key_file;
  // CA certificates (PEM) that client certificates are verified against: mutual TLS. Empty: no
  // client certificate is asked for.
  std::string client_ca_file;
  // With client_ca_file: a client without a valid certificate is refused at the handshake.
  // Without (the default) a client may come without one; one that presents a certificate the CA
  // did not sign is refused either way.
  bool require_client_cert = false;
  // How often the files are looked at for changes.
  absl::Duration reload_interval = absl::Seconds(60);

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// How a channel to another server speaks TLS.
struct ClientTlsOptions {
  // CA certificates (PEM) the server's certificate is verified against. Empty: the system's.
  std::string ca_file;
  // This client's certificate chain and private key (PEM), for mutual TLS. Both or neither.
  std::string cert_file;
  std::string key_file;
  // The name checked against the server's certificate instead of the target's host (e.g. when
  // the target is an IP address the certificate does not list). Empty: the target's host.
  std::string server_name;
  absl::Duration reload_interval = absl::Seconds(60);
};

// Checks the files of `options` (see the file comment): OK, or INVALID_ARGUMENT naming the flag
// and what is wrong with it. Make*Credentials check them too; these are for start-up, before
// anything else is opened.
absl::Status CheckServerTls(const ServerTlsOptions& options);
absl::Status CheckClientTls(const ClientTlsOptions& options);

// Checks the files of `options` (see the file comment) and makes the credentials. Errors:
// INVALID_ARGUMENT naming the flag (--tls-cert, --tls-key, --tls-client-ca,
// --tls-require-client-cert) and what is wrong with it.
// REQUIRES: options.enabled().
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options);

// Checks the files of `options` and makes TLS channel credentials. Errors: INVALID_ARGUMENT
// naming the flag (--tls-ca, --tls-cert, --tls-key) and what is wrong with it.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsOptions& options);

// A channel to `target` with `credentials`, checking `server_name` (if not empty) against the
// server's certificate instead of the target's host.
std::shared_ptr<grpc::Channel> NewChannel(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const std::string& server_name = "");

// A channel to `target`: TLS per `tls` when it is given, plaintext otherwise (crmctl's flags
// --tls-ca/--tls-cert/--tls-key map onto ClientTlsOptions one to one).
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(const std::string& target,
                                                          const ClientTlsOptions* tls);

// The verified identity of the client certificate a call came with: its SPIFFE ID (a single URI
// SAN "spiffe://..."), else its only URI SAN, else its subject's common name. Empty for a call
// without a verified client certificate (plaintext, TLS without one).
std::string PeerIdentity(const grpc::AuthContext& auth);
std::string PeerIdentity(const grpc::ServerContextBase& ctx);

// Whether a listen address ("host:port", "[v6]:port", "unix:path") reaches this host only:
// 127.0.0.0/8, ::1, "localhost", and Unix domain sockets. "0.0.0.0", "[::]", ":port", other
// names and addresses: false.
bool IsLoopbackAddress(absl::string_view address);

// "subject CN, serial, not after, SANs" of the first certificate in a PEM file, for the start-up
// log. INVALID_ARGUMENT if it holds none.
absl::StatusOr<std::string> DescribeCertificate(const std::string& pem_file);

}  // namespace crm::rpc
