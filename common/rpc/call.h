// Call: one call of a ServiceTable in flight (unary, a client stream or a server stream), from its
// arrival to its answer. Every way a call ends goes through Call::Finish, which answers it once and
// reports it:
//   - metrics, with the names of go-grpc-prometheus so existing dashboards apply:
//       grpc_server_started_total{grpc_service, grpc_method, grpc_type="unary"|"client_stream"|
//                                 "server_stream"}
//       grpc_server_handled_total{grpc_service, grpc_method, grpc_type, grpc_code}
//       grpc_server_handling_seconds{grpc_service, grpc_method, grpc_type} (histogram)
//   - an access log line (common/log), unless turned off (SetAccessLog):
//       {"msg":"call","method":"/crm.v1.CustomerCommandService/RegisterCustomer","code":"OK",
//        "ms":3.1,"peer":"ipv4:10.0.0.7:51234","identity":"spiffe://crm/ns/crm/sa/bi",
//        "request_id":"...","correlation_id":"..."}
//     at info level ("identity": the verified client certificate's, common/rpc/tls.h; empty
//     without one). It never holds request or response fields other than the request id, and
//     no status message (messages may quote what the caller sent): no personal data.
//
// Thread-safe: a Call is used by one thread at a time (the call's own flow); MethodStats is
// shared by every call of its method.
#pragma once

#include <array>
#include <functional>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "grpcpp/grpcpp.h"

namespace crm::rpc {

// The metrics of one method, made once when the method is registered.
class MethodStats {
 public:
  // `path`: "/<package>.<Service>/<Method>".
  // `type`: the grpc_type label, "unary", "client_stream" or "server_stream".
  explicit MethodStats(const std::string& path, const char* type = "unary");
  const std::string& path() const { return path_; }
  void Started() const { started_.Increment(); }
  void Handled(grpc::StatusCode code, absl::Duration latency) const;

 private:
  std::string path_;
  metrics::Labels labels_;  // grpc_service, grpc_method, grpc_type
  metrics::Counter started_;
  metrics::CounterFamily handled_;
  metrics::Histogram handling_;
  // grpc_server_handled_total per code, made at the code's first call: the hot path then takes
  // no lock and builds no label map.
  static constexpr int kCodes = 17;
  mutable std::array<std::once_flag, kCodes> code_once_;
  mutable std::array<metrics::Counter, kCodes> by_code_;
};

// Whether calls are written to the log (default: yes). Set once at start-up.
void SetAccessLog(bool on);

// The name of a gRPC status code, as grpc_code labels and logs spell it ("NOT_FOUND").
const char* CodeName(grpc::StatusCode code);

class Call {
 public:
  // Starts the clock; counts the call as started.
  Call(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
       const MethodStats* method);
  // The same for a call whose reactor is not a unary one (a client stream): `finish` answers it.
  Call(grpc::CallbackServerContext* ctx, std::function<void(const grpc::Status&)> finish,
       const MethodStats* method);
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  grpc::CallbackServerContext* ctx() const { return ctx_; }
  // The verified identity of the caller's client certificate (PeerIdentity in
  // common/rpc/tls.h), or empty.
  const std::string& peer_identity() const { return peer_identity_; }
  // The request's request id (commands), for the access log.
  void set_request_id(std::string id) { request_id_ = std::move(id); }

  // Answers the call with `status`, reports it, and deletes the Call (allocated with new).
  void Finish(const grpc::Status& status);

 private:
  ~Call() = default;
  grpc::CallbackServerContext* const ctx_;
  std::function<void(const grpc::Status&)> finish_;
  const MethodStats* const method_;
  const absl::Time start_ = absl::Now();
  const std::string peer_identity_;
  std::string request_id_;
};

}  // namespace crm::rpc
