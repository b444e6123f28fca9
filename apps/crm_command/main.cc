// crm-command: the command services on Kafka. Validates commands against its own fold of the
// customer topic (kept under --data-dir/command-state) and appends events to Kafka; answers only
// after the broker acknowledged them (committed transaction).
//
// Replicas: run N with --peers a0,...,aN-1 and --replica-index i. Replica i writes the
// partitions p with p % N == i through fenced transactional producers, and forwards commands for
// other customers to their writer, so one customer never has two writers (docs/kafka.md).

#include "absl/time/clock.h"
#include "apps/runtime/runtime.h"
#include "common/base/clock.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "services/command/command_router.h"
#include "services/customer/command_state.h"
#include "services/customer/customer_command_handler.h"
#include "services/customer/customer_command_service.h"
#include "spdlog/spdlog.h"

using crm::runtime::Fail;
using crm::runtime::OrFail;

int main(int argc, char** argv) {
  crm::runtime::Config config;
  config.engine = "kafka";
  CLI::App app{"crm-command: CRM command services on Kafka"};
  crm::runtime::AddFlags(app, config, {"kafka", "embedded"});
  crm::runtime::AddReplicaFlags(app, config);
  CLI11_PARSE(app, argc, argv);
  crm::runtime::Init(config);

  auto log = OrFail(
      crm::runtime::OpenEventLog(config, config.kafka_topic_prefix + ".command", /*writer=*/true),
      "cannot open the event log");
  auto state_store = OrFail(crm::kv::KvStore::Open(config.data_dir + "/command-state"),
                            "cannot open the command state store");
  crm::services::customer::CommandStateFold state_fold;
  crm::fold::FoldRunner state_runner(log.get(), state_store.get(), &state_fold,
                                     {.name = "command-state"});
  const absl::Time start = absl::Now();
  if (absl::Status s = state_runner.CatchUp(); !s.ok()) Fail("command state catch-up", s);
  spdlog::info("caught up with the log in {} ms", absl::ToInt64Milliseconds(absl::Now() - start));
  if (absl::Status s = state_runner.Start(); !s.ok()) Fail("command state runner", s);

  crm::services::customer::CommandState state(state_store.get());
  crm::services::customer::CustomerCommandHandler handler(log.get(), &state_runner, &state,
                                                          crm::base::SystemClock::Get(), {});
  crm::rpc::Executor executor(config.workers, config.max_queued);
  crm::services::command::CommandRouter router(
      log.get(), {.replica_index = config.replica_index, .peers = config.peers});
  if (absl::Status s = router.Validate(); !s.ok()) Fail("bad replica layout", s);
  crm::services::customer::CustomerCommandService command_service(&handler, &router, &executor);
  return crm::runtime::Serve(config, {&command_service}, {"crm.v1.CustomerCommandService"}, [&] {
    executor.Stop();
    state_runner.Stop();
  });
}
