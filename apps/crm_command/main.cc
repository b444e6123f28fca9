// crm-command: the command services on Kafka. Validates commands against its own fold of the
// topic (kept under --data-dir/command-state) and appends events to Kafka; answers only after
// the broker acknowledged them (committed transaction). Also runs the complaint deadline watcher
// for the partitions it writes.
//
// Replicas: run N with --peers a0,...,aN-1 and --replica-index i. Replica i writes the
// partitions p with p % N == i through fenced transactional producers, and forwards commands for
// other streams (customers, or the org) to their writer, so a stream never has two writers
// (docs/kafka.md).

#include "absl/time/clock.h"
#include "apps/assembly/command_side.h"
#include "apps/runtime/runtime.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "services/command/command_router.h"
#include "spdlog/spdlog.h"

using crm::runtime::Fail;
using crm::runtime::OrFail;

int main(int argc, char** argv) {
  crm::runtime::Config config;
  config.engine = "kafka";
  bool rebuild = false;
  CLI::App app{"crm-command: CRM command services on Kafka"};
  crm::runtime::AddFlags(app, config, {"kafka", "embedded"});
  crm::runtime::AddReplicaFlags(app, config);
  crm::runtime::AddCommandFlags(app, config);
  app.add_flag("--rebuild", rebuild,
               "Drop the command state and refold it from the start of the topics before serving");
  CLI11_PARSE(app, argc, argv);
  crm::runtime::Init(config);
  const absl::Duration scan_interval =
      OrFail(crm::runtime::ParseDurationFlag(config.sla_scan_interval, "--sla-scan-interval"),
             "bad configuration");
  const absl::Duration due_lead =
      OrFail(crm::runtime::ParseDueLeadFlag(config.notify_due_lead), "bad configuration");

  auto log = OrFail(
      crm::runtime::OpenEventLog(config, config.kafka_topic_prefix + ".command", /*writer=*/true),
      "cannot open the event log");
  auto state_store = OrFail(crm::runtime::OpenStore(config.data_dir + "/command-state", rebuild),
                            "cannot open the command state store");
  crm::services::command::CommandRouter router(
      log.get(),
      {.replica_index = config.replica_index,
       .peers = config.peers,
       .credentials = OrFail(crm::runtime::PeerCredentials(config), "bad configuration")});
  if (absl::Status s = router.Validate(); !s.ok()) Fail("bad replica layout", s);

  std::unique_ptr<crm::rpc::Executor> executor = crm::runtime::NewExecutor(config);
  auto commands =
      OrFail(crm::assembly::CommandSide::Create(log.get(), state_store.get(), executor.get(),
                                                {.router = &router,
                                                 .sla_policy = config.sla_policy,
                                                 .sla_scan_interval = scan_interval,
                                                 .due_reminder_lead = due_lead}),
             "bad configuration");
  const absl::Time start = absl::Now();
  if (absl::Status s = commands->CatchUp(); !s.ok()) Fail("command state catch-up", s);
  spdlog::info("caught up with the log in {} ms", absl::ToInt64Milliseconds(absl::Now() - start));
  if (absl::Status s = commands->Start(); !s.ok()) Fail("command side", s);
  crm::runtime::Process process{
      .log = log.get(),
      .writer = true,
      .folds = {{"command-state", state_store.get(), commands->runner()}},
      .services = commands->services(),
      .admin_executor = executor.get(),
      .org = commands->org(),
      .drained =
          [&] {
            executor->Stop();
            commands->Stop();
          },
  };
  return crm::runtime::Serve(config, process);
}
