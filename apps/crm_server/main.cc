// crm-server: the whole CRM in one process. By default on the embedded event log (no Kafka
// needed); --engine kafka runs the same code on Kafka.
//
// Command side (every *CommandService and OrgService, plus the complaint deadline watcher) and
// query side (every query service) share one gRPC port, with grpc.health.v1 and server
// reflection. Data lives under --data-dir:
//   log/            the durable event log, the system of record (embedded engine)
//   command-state/  the command side's fold of the log (validation state, request ids)
//   views/          the query side's fold of the log (every view)
//   audit/          the audit of reads (services/admin/audit_log.h; docs/security.md)
//   backups/        online backups (crm.admin.v1.BackupService; --backup-dir moves them)
// --rebuild drops command-state/ and views/ and refolds both from the start of the log.
// Commands and queries run on separate pools of --workers threads each, so neither can starve
// the other. SIGTERM/SIGINT: health goes NOT_SERVING, in-flight calls drain, the process exits 0.

#include "absl/time/clock.h"
#include "apps/assembly/command_side.h"
#include "apps/assembly/query_side.h"
#include "apps/runtime/runtime.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "spdlog/spdlog.h"

using crm::runtime::Fail;
using crm::runtime::OrFail;

int main(int argc, char** argv) {
  crm::runtime::Config config;
  bool rebuild = false;
  CLI::App app{"crm-server: event-sourced CRM in one process (embedded event log by default)"};
  crm::runtime::AddFlags(app, config, {"embedded", "kafka"});
  crm::runtime::AddCommandFlags(app, config);
  crm::runtime::AddQueryFlags(app, config);
  app.add_flag("--rebuild", rebuild,
               "Drop the command state and the views and refold them from log position zero "
               "before serving");
  CLI11_PARSE(app, argc, argv);
  crm::runtime::Init(config);
  const absl::Duration scan_interval =
      OrFail(crm::runtime::ParseDurationFlag(config.sla_scan_interval, "--sla-scan-interval"),
             "bad configuration");
  const absl::Duration due_lead =
      OrFail(crm::runtime::ParseDueLeadFlag(config.notify_due_lead), "bad configuration");

  auto log = OrFail(
      crm::runtime::OpenEventLog(config, config.kafka_topic_prefix + ".server", /*writer=*/true),
      "cannot open the event log");
  auto state_store = OrFail(crm::runtime::OpenStore(config.data_dir + "/command-state", rebuild),
                            "cannot open the command state store");
  auto views_store = OrFail(crm::runtime::OpenStore(config.data_dir + "/views", rebuild),
                            "cannot open the views store");
  // Opened before the query side, whose relay publishes to it until the query side stops.
  auto notification_topic =
      OrFail(crm::runtime::OpenNotificationTopic(config, config.kafka_topic_prefix + ".server"),
             "cannot open the notification topic");

  std::unique_ptr<crm::rpc::Executor> command_executor = crm::runtime::NewExecutor(config);
  std::unique_ptr<crm::rpc::Executor> query_executor = crm::runtime::NewExecutor(config);
  auto commands = OrFail(
      crm::assembly::CommandSide::Create(log.get(), state_store.get(), command_executor.get(),
                                         {.sla_policy = config.sla_policy,
                                          .sla_scan_interval = scan_interval,
                                          .due_reminder_lead = due_lead}),
      "bad configuration");
  auto queries = OrFail(
      crm::assembly::QuerySide::Create(log.get(), views_store.get(), query_executor.get(),
                                       {.notifications = {.csat_max = config.notify_csat_max,
                                                          .nps_max = config.notify_nps_max}}),
      "cannot set up the query side");
  const absl::Time catch_up_start = absl::Now();
  if (absl::Status s = commands->CatchUp(); !s.ok()) Fail("command state catch-up", s);
  if (absl::Status s = queries->CatchUp(); !s.ok()) Fail("views catch-up", s);
  spdlog::info("caught up with the log in {} ms",
               absl::ToInt64Milliseconds(absl::Now() - catch_up_start));
  if (absl::Status s = commands->Start(); !s.ok()) Fail("command side", s);
  if (absl::Status s = queries->Start(); !s.ok()) Fail("query side", s);
  if (notification_topic != nullptr) queries->StartNotificationRelay(notification_topic.get());

  crm::runtime::Process process{
      .log = log.get(),
      .writer = true,
      .folds = {{"views", views_store.get(), queries->runner()},
                {"command-state", state_store.get(), commands->runner()}},
      .services = commands->services(),
      .admin_executor = query_executor.get(),
      .org = commands->org(),
      .drained =
          [&] {
            command_executor->Stop();
            query_executor->Stop();
            queries->Stop();
            commands->Stop();
          },
  };
  for (crm::rpc::ServiceTable* s : queries->services()) process.services.push_back(s);
  return crm::runtime::Serve(config, process);
}
