#include "services/command/command_router.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/request_parser.h"
#include "common/status/errors.h"

namespace crm::services::command {

CommandRouter::CommandRouter(const eventlog::EventLog* log, Options options)
    : log_(log), options_(std::move(options)) {}

absl::Status CommandRouter::Validate() const {
  if (options_.peers.empty()) return absl::OkStatus();
  const int32_t replicas = static_cast<int32_t>(options_.peers.size());
  if (options_.replica_index < 0 || options_.replica_index >= replicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("replica index ", options_.replica_index, " is not in [0, ", replicas, ")"));
  }
  return absl::OkStatus();
}

std::optional<std::string> CommandRouter::OwnerOf(absl::string_view customer_id) const {
  if (options_.peers.size() <= 1) return std::nullopt;
  const int32_t replicas = static_cast<int32_t>(options_.peers.size());
  const int32_t owner = log_->WriterOf(log_->PartitionOf(customer_id)) % replicas;
  if (owner == options_.replica_index) return std::nullopt;
  return options_.peers[owner];
}

grpc::GenericStub* CommandRouter::StubFor(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[peer];
  if (stub == nullptr) {
    stub = std::make_unique<grpc::GenericStub>(grpc::CreateChannel(
        peer, options_.credentials != nullptr ? options_.credentials
                                              : grpc::InsecureChannelCredentials()));
  }
  return stub.get();
}

absl::Status CommandRouter::Call(const std::string& peer, const std::string& method,
                                 const google::protobuf::Message& request,
                                 google::protobuf::Message* response, absl::Time deadline,
                                 const rpc::CallContext& caller) {
  grpc::ClientContext context;
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
  context.AddMetadata("x-crm-actor", caller.actor);
  // With authentication on, the peer verifies the caller's token again; the actor is then its
  // subject and x-crm-actor is ignored.
  if (!caller.authorization.empty()) context.AddMetadata("authorization", caller.authorization);
  if (!caller.correlation_id.empty()) {
    context.AddMetadata("x-correlation-id", caller.correlation_id);
  }
  context.AddMetadata(kForwardedHeader, absl::StrCat(options_.replica_index));
  grpc::ByteBuffer in = rpc::SerializeResponse(request);
  grpc::ByteBuffer out;
  absl::Notification done;
  grpc::Status status;
  StubFor(peer)->UnaryCall(&context, method, grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  if (!status.ok()) {
    // The peer's own errors (with their google.rpc details) pass unchanged, as if raised here;
    // a transport error without details says which replica it was.
    absl::Status error = rpc::FromGrpcStatus(status);
    if (status::Details(error).empty()) {
      return absl::Status(error.code(), absl::StrCat("replica ", peer, ": ", error.message()));
    }
    return error;
  }
  if (!rpc::ParseRequest(out, response).ok()) {
    return absl::InternalError(absl::StrCat("replica ", peer, " answered an undecodable message"));
  }
  return absl::OkStatus();
}

void CommandRouter::Forward(const std::string& peer, const std::string& method,
                            grpc::CallbackServerContext* server_context,
                            const grpc::ByteBuffer& request, grpc::ByteBuffer* response,
                            std::function<void(grpc::Status)> done) {
  struct Call {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    std::function<void(grpc::Status)> done;
  };
  auto* call = new Call{{}, request, std::move(done)};
  call->context.set_deadline(server_context->deadline());
  // The caller's credentials go along: the owner authenticates the call again.
  for (const char* key : {"authorization", "x-crm-actor", "x-correlation-id"}) {
    auto it = server_context->client_metadata().find(key);
    if (it != server_context->client_metadata().end()) {
      call->context.AddMetadata(key, std::string(it->second.data(), it->second.size()));
    }
  }
  call->context.AddMetadata(kForwardedHeader, absl::StrCat(options_.replica_index));
  StubFor(peer)->UnaryCall(&call->context, method, grpc::StubOptions(), &call->request, response,
                           [call](grpc::Status status) {
                             call->done(std::move(status));
                             delete call;
                           });
}

}  // namespace crm::services::command
