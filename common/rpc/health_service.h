// HealthService: grpc.health.v1.Health on the callback API, with Check and Watch.
//
// Why our own: gRPC's built-in health service is not described by server reflection, so grpcurl
// could not call it by name; this one is compiled from proto/grpc/health/v1/health.proto.
// Services: "" (the whole server) plus any names registered with SetStatus.
// Thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace crm::rpc {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;

  HealthService();
  ~HealthService() override;

  // Sets a service's status ("" is the server) and tells its watchers.
  void SetStatus(const std::string& service, Status status);
  // A service's status (SERVICE_UNKNOWN if it has none).
  Status StatusOf(const std::string& service);
  // Sets every known service to NOT_SERVING and ends all Watch streams (for shutdown).
  void Shutdown();
  // Every service's status now (for crm.admin.v1.AdminService.GetStatus).
  std::map<std::string, Status> Statuses();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  void Notify(const std::string& service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Watcher* watcher);

  absl::Mutex mu_;
  std::map<std::string, Status> statuses_ ABSL_GUARDED_BY(mu_);
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace crm::rpc
