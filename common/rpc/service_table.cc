#include "common/rpc/service_table.h"

#include "absl/strings/str_join.h"
#include "common/base/proto_util.h"
#include "common/base/uuid.h"
#include "common/rpc/grpc_status.h"
#include "common/status/errors.h"

namespace crm::rpc {

std::string RequestDigest(const google::protobuf::Message& request) {
  return base::UuidFromName(absl::StrCat(request.GetDescriptor()->full_name(), "\n",
                                         base::SerializeDeterministic(request)));
}

ServiceTable::ServiceTable(std::string service, Executor* executor, CallRouter* router)
    : service_(std::move(service)), executor_(executor), router_(router) {}

const MethodStats* ServiceTable::Register(absl::string_view method,
                                          const google::protobuf::Descriptor* request,
                                          const google::protobuf::Descriptor* response,
                                          bool client_stream, bool server_stream) {
  registered_.push_back({std::string(method), request->full_name(), response->full_name(),
                         client_stream, server_stream});
  stats_.emplace_back(absl::StrCat("/", service_, "/", method), client_stream   ? "client_stream"
                                                                : server_stream ? "server_stream"
                                                                                : "unary");
  return &stats_.back();
}

absl::Status ServiceTable::Validate() const {
  const google::protobuf::ServiceDescriptor* proto =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_);
  if (proto == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("no proto service ", service_));
  }
  std::vector<std::string> problems;
  std::set<std::string> seen;
  for (const Registered& r : registered_) {
    const google::protobuf::MethodDescriptor* m = proto->FindMethodByName(r.method);
    if (m == nullptr) {
      problems.push_back(absl::StrCat(r.method, " is not a method of the service"));
      continue;
    }
    if (!seen.insert(r.method).second) problems.push_back(absl::StrCat(r.method, " twice"));
    if (m->input_type()->full_name() != r.request_type ||
        m->output_type()->full_name() != r.response_type) {
      problems.push_back(
          absl::StrCat(r.method, " has handler types ", r.request_type, " -> ", r.response_type));
    }
    if (m->client_streaming() != r.client_stream || m->server_streaming() != r.server_stream) {
      problems.push_back(absl::StrCat(r.method, " is registered as ",
                                      r.client_stream   ? "a client stream"
                                      : r.server_stream ? "a server stream"
                                                        : "unary",
                                      " but the proto's method is not"));
    }
  }
  for (const std::string& method : unknown_audited_) {
    problems.push_back(absl::StrCat(method, " is audited but not registered"));
  }
  for (int i = 0; i < proto->method_count(); ++i) {
    if (!seen.count(proto->method(i)->name())) {
      problems.push_back(absl::StrCat(proto->method(i)->name(), " has no handler"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(service_, ": ", absl::StrJoin(problems, "; ")));
}

void ServiceTable::Forward(Call* rpc, grpc::ByteBuffer* out, const char* path,
                           const std::string& owner, const google::protobuf::Message& request) {
  if (!Metadata(rpc->ctx(), CallRouter::kForwardedHeader).empty()) {
    rpc->Finish(ToGrpcStatus(status::Error(
        absl::StatusCode::kUnavailable,
        "forwarded to a replica that does not write this stream; replicas disagree on "
        "--replica-index/--peers",
        "NOT_PARTITION_OWNER", {{"owner", owner}})));
    return;
  }
  router_->Forward(owner, path, rpc->ctx(), SerializeResponse(request), out,
                   [rpc](grpc::Status status) { rpc->Finish(status); });
}

void ServiceTable::AuditReads(std::initializer_list<absl::string_view> methods) {
  for (absl::string_view method : methods) AuditReads(method, &CustomersIn);
}

void ServiceTable::AuditReads(absl::string_view method, CustomersRead customers) {
  for (Registered& r : registered_) {
    if (r.method == method) {
      r.audit = customers;
      return;
    }
  }
  unknown_audited_.emplace_back(method);  // Validate() says so
}

ReadRecord ServiceTable::ReadRecordOf(const char* path, const CallContext& call) {
  ReadRecord read;
  if (call.principal.has_value()) {
    read.subject = call.principal->subject;
    read.principal_kind = std::string(auth::KindName(call.principal->kind));
  } else {
    read.subject = call.actor;
    read.principal_kind = "unauthenticated";
  }
  read.peer_identity = call.peer_identity;
  read.method = path;
  read.correlation_id = call.correlation_id;
  // Long enough for a durable write even when the caller set no deadline.
  read.deadline = std::min(call.deadline, absl::Now() + absl::Seconds(30));
  return read;
}

grpc::Status ServiceTable::AuditUnavailable(const absl::Status& why) {
  // Why is logged where it failed (services/admin/audit_log.cc): the caller is not told the
  // server's paths or brokers.
  return ToGrpcStatus(status::Error(
      absl::StatusCode::kUnavailable,
      "the read could not be recorded in the audit log, so its answer is withheld; retry later",
      "AUDIT_UNAVAILABLE"));
}

bool ServiceTable::DroppedWhileQueued(Call* rpc) {
  if (rpc->ctx()->IsCancelled()) {
    rpc->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
    return true;
  }
  if (rpc->ctx()->deadline() <= std::chrono::system_clock::now()) {
    rpc->Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed"));
    return true;
  }
  return false;
}

bool ServiceTable::Authorize(Call* rpc, const char* path, CallContext* call) const {
  if (authorizer_ == nullptr || !call->principal.has_value()) return true;
  absl::StatusOr<std::shared_ptr<const auth::Grant>> grant =
      authorizer_->Authorize(path, *call->principal);
  if (!grant.ok()) {
    rpc->Finish(ToGrpcStatus(grant.status()));
    return false;
  }
  call->grant = *std::move(grant);
  return true;
}

}  // namespace crm::rpc
