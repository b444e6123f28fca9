#include "common/rpc/call.h"

#include <atomic>

#include "absl/strings/str_format.h"
#include "common/log/log.h"
#include "common/rpc/tls.h"

namespace crm::rpc {
namespace {

std::atomic<bool> access_log{true};

metrics::Labels MethodLabels(const std::string& path, const char* type) {
  // "/pkg.Service/Method"
  const size_t slash = path.rfind('/');
  return {{"grpc_service", path.substr(1, slash - 1)},
          {"grpc_method", path.substr(slash + 1)},
          {"grpc_type", type}};
}

}  // namespace

void SetAccessLog(bool on) { access_log = on; }

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

MethodStats::MethodStats(const std::string& path, const char* type)
    : path_(path),
      labels_(MethodLabels(path, type)),
      started_(
          metrics::Registry::Default()
              .Counters("grpc_server_started_total", "Total number of RPCs started on the server.")
              .Add(labels_)),
      handled_(metrics::Registry::Default().Counters(
          "grpc_server_handled_total",
          "Total number of RPCs completed on the server, regardless of success or failure.")),
      handling_(metrics::Registry::Default()
                    .Histograms("grpc_server_handling_seconds",
                                "Histogram of response latency (seconds) of gRPC that had been "
                                "application-level handled by the server.",
                                metrics::LatencyBuckets())
                    .Add(labels_)) {
  // The OK series exists from the start, at 0, so that increase() counts the first call too.
  std::call_once(code_once_[0], [&] {
    metrics::Labels ok = labels_;
    ok.emplace("grpc_code", "OK");
    by_code_[0] = handled_.Add(ok);
  });
}

void MethodStats::Handled(grpc::StatusCode code, absl::Duration latency) const {
  int i = static_cast<int>(code);
  if (i < 0 || i >= kCodes) i = static_cast<int>(grpc::StatusCode::UNKNOWN);
  std::call_once(code_once_[i], [&] {
    metrics::Labels labels = labels_;
    labels.emplace("grpc_code", CodeName(static_cast<grpc::StatusCode>(i)));
    by_code_[i] = handled_.Add(labels);
  });
  by_code_[i].Increment();
  handling_.Observe(absl::ToDoubleSeconds(latency));
}

Call::Call(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor,
           const MethodStats* method)
    : Call(
          ctx, [reactor](const grpc::Status& status) { reactor->Finish(status); }, method) {}

Call::Call(grpc::CallbackServerContext* ctx, std::function<void(const grpc::Status&)> finish,
           const MethodStats* method)
    : ctx_(ctx), finish_(std::move(finish)), method_(method), peer_identity_(PeerIdentity(*ctx)) {
  method_->Started();
}

void Call::Finish(const grpc::Status& status) {
  const absl::Duration latency = absl::Now() - start_;
  method_->Handled(status.error_code(), latency);
  if (access_log.load(std::memory_order_relaxed)) {
    const std::string ms = absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(latency));
    const auto& md = ctx_->client_metadata();
    auto it = md.find("x-correlation-id");
    std::string correlation;
    if (it != md.end() && it->second.size() <= 128) {
      correlation.assign(it->second.data(), it->second.size());
    }
    const std::string peer = ctx_->peer();
    log::Log(log::Level::kInfo, "call",
             {{"method", method_->path()},
              {"code", CodeName(status.error_code())},
              {"ms", ms, /*raw=*/true},
              {"peer", peer},
              {"identity", peer_identity_},
              {"request_id", request_id_},
              {"correlation_id", correlation}});
  }
  std::function<void(const grpc::Status&)> finish = std::move(finish_);
  delete this;
  finish(status);
}

}  // namespace crm::rpc
