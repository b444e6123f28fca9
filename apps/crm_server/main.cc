// crm-server: the whole CRM in one process. By default on the embedded event log (no Kafka
// needed); --engine kafka runs the same code on Kafka.
//
// Command side (CustomerCommandService) and query side (CustomerQueryService) share one gRPC
// port, with grpc.health.v1 and server reflection. Data lives under --data-dir:
//   log/            the durable event log, the system of record (embedded engine)
//   command-state/  the command side's fold of the log (validation state, request ids)
//   views/          the query side's fold of the log (customer views); --rebuild refolds it
// SIGTERM/SIGINT: health goes NOT_SERVING, in-flight calls drain, the process exits 0.

#include "absl/time/clock.h"
#include "apps/runtime/runtime.h"
#include "common/base/clock.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "projections/customer/customer_view_fold.h"
#include "readmodel/customer/customer_views.h"
#include "services/customer/command_state.h"
#include "services/customer/customer_command_handler.h"
#include "services/customer/customer_command_service.h"
#include "services/customer/customer_query_service.h"
#include "spdlog/spdlog.h"

using crm::runtime::Fail;
using crm::runtime::OrFail;

int main(int argc, char** argv) {
  crm::runtime::Config config;
  bool rebuild = false;
  CLI::App app{"crm-server: event-sourced CRM in one process (embedded event log by default)"};
  crm::runtime::AddFlags(app, config, {"embedded", "kafka"});
  app.add_flag("--rebuild", rebuild,
               "Drop the views and refold them from log position zero before serving");
  CLI11_PARSE(app, argc, argv);
  crm::runtime::Init(config);

  auto log = OrFail(
      crm::runtime::OpenEventLog(config, config.kafka_topic_prefix + ".server", /*writer=*/true),
      "cannot open the event log");
  auto state_store = OrFail(crm::kv::KvStore::Open(config.data_dir + "/command-state"),
                            "cannot open the command state store");
  auto views_store = OrFail(crm::runtime::OpenStore(config.data_dir + "/views", rebuild),
                            "cannot open the views store");

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
  crm::services::customer::CustomerCommandHandler handler(log.get(), &state_runner, &state,
                                                          crm::base::SystemClock::Get(), {});
  crm::readmodel::customer::CustomerViews views(views_store.get());
  crm::services::customer::CustomerQueries queries(&views, &views_runner, {});

  crm::rpc::Executor executor(config.workers, config.max_queued);
  crm::services::customer::CustomerCommandService command_service(&handler, /*router=*/nullptr,
                                                                  &executor);
  crm::services::customer::CustomerQueryService query_service(&queries, &executor);

  return crm::runtime::Serve(config, {&command_service, &query_service},
                             {"crm.v1.CustomerCommandService", "crm.v1.CustomerQueryService"}, [&] {
                               executor.Stop();
                               views_runner.Stop();
                               state_runner.Stop();
                             });
}
