// CommandRouter: sends each customer command to the one replica that writes its customer.
//
// Why: two crm-command replicas must never both append for one customer (that could give two
// events with the same customer and version). Each replica runs a fixed share of the log's
// writers (writer % replicas == replica index; the log says which writer a partition has,
// EventLog::WriterOf), each fenced by its transactional id (see common/kafka/kafka_event_log.h). A
// command that reaches a replica which does not write the customer's partition is forwarded,
// request bytes unchanged, to the replica that does. A forwarded call that lands on a non-owner
// again (replicas disagree on the layout) fails with UNAVAILABLE instead of bouncing.
//
// With one replica (the default, and always on the embedded engine) everything is local.
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"
#include "common/rpc/service_table.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace crm::services::command {

class CommandRouter final : public rpc::CallRouter {
 public:
  struct Options {
    int32_t replica_index = 0;
    // Addresses (host:port) of all replicas, in index order; empty = one replica.
    std::vector<std::string> peers;
    // How the channels to the other replicas are secured (TLS or mutual TLS: runtime::
    // PeerCredentials); null: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
  };

  // Does not take ownership of `log`. INVALID_ARGUMENT via Validate() for a bad layout.
  CommandRouter(const eventlog::EventLog* log, Options options);

  absl::Status Validate() const;

  // The address of the replica that writes `customer_id`, or nullopt if it is this one.
  std::optional<std::string> OwnerOf(absl::string_view customer_id) const override;

  // Calls `method` on `peer` with `request` and blocks until `response` is filled or the call
  // fails (by `deadline`): how a command of this replica runs a step on a stream another replica
  // writes (e.g. an e-mail claim), on behalf of `caller` (its actor, correlation id and
  // credentials go along). The peer's error comes back as it raised it (code, message and
  // google.rpc details: rpc::FromGrpcStatus); a transport error names the peer.
  absl::Status Call(const std::string& peer, const std::string& method,
                    const google::protobuf::Message& request, google::protobuf::Message* response,
                    absl::Time deadline, const rpc::CallContext& caller);

  // Forwards a unary call to `peer` with the caller's deadline and metadata (authorization,
  // x-crm-actor, x-correlation-id); `done` gets the peer's status (with its error details) once
  // `response` is filled.
  void Forward(const std::string& peer, const std::string& method,
               grpc::CallbackServerContext* server_context, const grpc::ByteBuffer& request,
               grpc::ByteBuffer* response, std::function<void(grpc::Status)> done) override;

 private:
  grpc::GenericStub* StubFor(const std::string& peer);

  const eventlog::EventLog* const log_;
  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::services::command
