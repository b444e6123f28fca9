#include "common/rpc/health_service.h"

#include <optional>

namespace crm::rpc {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: writes the current status, then every change, one write at a time.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* owner, std::string service)
      : owner_(owner), service_(std::move(service)) {}

  // Called with owner_->mu_ held.
  void Update(Status status) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    pending_ = status;
    has_pending_ = true;
    MaybeWriteLocked();
  }
  void End() {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      if (!finished_) {
        finished_ = true;
        Finish(grpc::Status::OK);
      }
      return;
    }
    MaybeWriteLocked();
  }
  void OnCancel() override { End(); }
  void OnDone() override {
    owner_->Remove(this);
    delete this;
  }
  const std::string& service() const { return service_; }

 private:
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || !has_pending_ || finished_) return;
    if (last_sent_.has_value() && *last_sent_ == pending_) {
      has_pending_ = false;
      return;
    }
    response_.set_status(pending_);
    last_sent_ = pending_;
    has_pending_ = false;
    writing_ = true;
    StartWrite(&response_);
  }

  HealthService* const owner_;
  const std::string service_;
  absl::Mutex mu_;
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  Status pending_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Status> last_sent_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService() { statuses_[""] = HealthCheckResponse::NOT_SERVING; }

HealthService::~HealthService() { Shutdown(); }

HealthService::Status HealthService::StatusOf(const std::string& service) {
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(service);
  return it == statuses_.end() ? grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

std::map<std::string, HealthService::Status> HealthService::Statuses() {
  absl::MutexLock lock(&mu_);
  return statuses_;
}

void HealthService::SetStatus(const std::string& service, Status status) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  statuses_[service] = status;
  Notify(service);
}

void HealthService::Shutdown() {
  // Streams end under mu_: their OnDone (on a gRPC thread) waits in Remove until we are done,
  // so no watcher is deleted while we still hold its pointer.
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [name, status] : statuses_) {
    status = HealthCheckResponse::NOT_SERVING;
    Notify(name);
  }
  for (Watcher* w : watchers_) w->End();
}

void HealthService::Notify(const std::string& service) {
  for (Watcher* w : watchers_) {
    if (w->service() == service) w->Update(statuses_[service]);
  }
}

void HealthService::Remove(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(request->service());
  if (it == statuses_.end()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    response->set_status(it->second);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* ctx, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  auto it = statuses_.find(request->service());
  watcher->Update(it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second);
  if (shut_down_) watcher->End();
  return watcher;
}

}  // namespace crm::rpc
