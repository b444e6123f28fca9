// crm-server: the whole CRM in one process on the embedded event log.
//
// Command side (CustomerCommandService) and query side (CustomerQueryService) share one gRPC
// port, with grpc.health.v1 and server reflection. Data lives under --data-dir:
//   log/            the durable event log (the system of record)
//   command-state/  the command side's fold of the log (validation state, request ids)
//   views/          the query side's fold of the log (customer views); --rebuild refolds it
// SIGTERM/SIGINT: health goes NOT_SERVING, in-flight calls drain, the process exits 0.

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/eventlog/embedded_event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/log/log.h"
#include "common/rpc/executor.h"
#include "common/rpc/health_service.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "projections/customer/customer_view_fold.h"
#include "readmodel/customer/customer_views.h"
#include "services/customer/command_state.h"
#include "services/customer/customer_command_handler.h"
#include "services/customer/customer_command_service.h"
#include "services/customer/customer_query_service.h"
#include "spdlog/spdlog.h"

namespace {

struct Config {
  std::string data_dir = "./data";
  std::string listen = "0.0.0.0:50051";
  std::string port_file;
  std::string log_level = "info";
  bool rebuild = false;
  int workers = 16;
  int max_queued = 4096;
  int shutdown_grace_seconds = 20;
};

[[noreturn]] void Fail(const std::string& what, const absl::Status& status) {
  spdlog::critical("{}: {}", what, crm::log::JsonEscape(status.ToString()));
  spdlog::shutdown();
  std::exit(1);
}

template <typename T>
T OrFail(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Fail(what, value.status());
  return std::move(value).value();
}

void WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app{"crm-server: event-sourced CRM, single process on the embedded event log"};
  app.add_option("--data-dir", config.data_dir, "Directory for the event log and the views")
      ->envname("CRM_DATA_DIR");
  app.add_option("--listen", config.listen, "gRPC address host:port (port 0: any free port)")
      ->envname("CRM_LISTEN");
  app.add_option("--port-file", config.port_file,
                 "Write the bound gRPC port to this file once serving")
      ->envname("CRM_PORT_FILE");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn or error")
      ->envname("CRM_LOG_LEVEL");
  app.add_flag("--rebuild", config.rebuild,
               "Drop the views and refold them from log position zero before serving");
  app.add_option("--workers", config.workers, "Threads that run RPC handlers")
      ->envname("CRM_WORKERS")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-queued", config.max_queued,
                 "Calls waiting for a worker before new ones get RESOURCE_EXHAUSTED")
      ->envname("CRM_MAX_QUEUED")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--shutdown-grace-seconds", config.shutdown_grace_seconds,
                 "How long SIGTERM waits for in-flight calls")
      ->envname("CRM_SHUTDOWN_GRACE_SECONDS")
      ->check(CLI::Range(0, 3600));
  CLI11_PARSE(app, argc, argv);

  if (absl::Status s = crm::log::Init(config.log_level); !s.ok()) {
    fprintf(stderr, "crm-server: %s\n", std::string(s.message()).c_str());
    return 2;
  }

  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    Fail("cannot create --data-dir " + config.data_dir,
         absl::InvalidArgumentError(ec.message()));
  }
  const std::string log_dir = config.data_dir + "/log";
  const std::string state_dir = config.data_dir + "/command-state";
  const std::string views_dir = config.data_dir + "/views";

  auto log = OrFail(crm::eventlog::EmbeddedEventLog::Open(log_dir), "cannot open the event log");
  auto state_store =
      OrFail(crm::kv::KvStore::Open(state_dir), "cannot open the command state store");
  if (config.rebuild) {
    spdlog::info("rebuild: dropping the views in {}", crm::log::JsonEscape(views_dir));
    if (absl::Status s = crm::kv::KvStore::Destroy(views_dir); !s.ok()) {
      Fail("cannot drop the views", s);
    }
  }
  auto views_store = OrFail(crm::kv::KvStore::Open(views_dir), "cannot open the views store");

  crm::services::customer::CommandStateFold state_fold;
  crm::fold::FoldRunner state_runner(log.get(), state_store.get(), &state_fold,
                                     {.name = "command-state"});
  crm::projections::customer::CustomerViewFold view_fold;
  crm::fold::FoldRunner views_runner(log.get(), views_store.get(), &view_fold,
                                     {.name = "customer-views"});

  const absl::Time catch_up_start = absl::Now();
  if (absl::Status s = state_runner.CatchUp(); !s.ok()) Fail("command state catch-up", s);
  if (absl::Status s = views_runner.CatchUp(); !s.ok()) Fail("views catch-up", s);
  spdlog::info("caught up with the log in {} ms",
               absl::ToInt64Milliseconds(absl::Now() - catch_up_start));
  if (absl::Status s = state_runner.Start(); !s.ok()) Fail("command state runner", s);
  if (absl::Status s = views_runner.Start(); !s.ok()) Fail("views runner", s);

  crm::services::customer::CommandState state(state_store.get());
  crm::services::customer::CustomerCommandHandler handler(
      log.get(), &state_runner, &state, crm::base::SystemClock::Get(), {});
  crm::readmodel::customer::CustomerViews views(views_store.get());
  crm::services::customer::CustomerQueries queries(&views, &views_runner, {});

  crm::rpc::Executor executor(config.workers, config.max_queued);
  crm::services::customer::CustomerCommandService command_service(&handler, &executor);
  crm::services::customer::CustomerQueryService query_service(&queries, &executor);

  crm::rpc::HealthService health;
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(), &port);
  // Requests up to 8 MiB reach our parser, which refuses anything over 1 MiB with
  // INVALID_ARGUMENT; beyond 8 MiB gRPC itself answers RESOURCE_EXHAUSTED.
  builder.SetMaxReceiveMessageSize(8 << 20);
  builder.RegisterService(&command_service);
  builder.RegisterService(&query_service);
  builder.RegisterService(&health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    Fail("cannot listen on " + config.listen, absl::UnavailableError("bind failed"));
  }
  for (const char* service : {"", "crm.v1.CustomerCommandService", "crm.v1.CustomerQueryService"}) {
    health.SetStatus(service, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  if (!config.port_file.empty()) WritePortFile(config.port_file, port);
  spdlog::info("serving gRPC on port {} (data in {})", port, crm::log::JsonEscape(config.data_dir));

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("signal {}: draining in-flight calls", signal_number);

  health.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::seconds(config.shutdown_grace_seconds));
  executor.Stop();
  server->Wait();
  views_runner.Stop();
  state_runner.Stop();
  spdlog::info("stopped");
  spdlog::shutdown();
  return 0;
}
