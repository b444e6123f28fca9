// crm-projector: folds the topic into its own RocksDB views (--data-dir/views) and serves the
// query services over them. Several replicas may run, each with its own views; a consistency
// token from crm-command works against any of them.

#include "absl/time/clock.h"
#include "apps/assembly/query_side.h"
#include "apps/runtime/runtime.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "spdlog/spdlog.h"

using crm::runtime::Fail;
using crm::runtime::OrFail;

int main(int argc, char** argv) {
  crm::runtime::Config config;
  config.engine = "kafka";
  bool rebuild = false;
  CLI::App app{"crm-projector: CRM projections and query services on Kafka"};
  crm::runtime::AddFlags(app, config, {"kafka", "embedded"});
  crm::runtime::AddQueryFlags(app, config);
  app.add_flag("--rebuild", rebuild, "Drop the views and refold them from the start of the topics");
  CLI11_PARSE(app, argc, argv);
  crm::runtime::Init(config);

  auto log = OrFail(crm::runtime::OpenEventLog(config, config.kafka_topic_prefix + ".projector",
                                               /*writer=*/false),
                    "cannot open the event log");
  auto views_store = OrFail(crm::runtime::OpenStore(config.data_dir + "/views", rebuild),
                            "cannot open the views store");
  // Opened before the query side, whose relay publishes to it until the query side stops.
  auto notification_topic =
      OrFail(crm::runtime::OpenNotificationTopic(config, config.kafka_topic_prefix + ".projector"),
             "cannot open the notification topic");
  std::unique_ptr<crm::rpc::Executor> executor = crm::runtime::NewExecutor(config);
  auto queries = OrFail(
      crm::assembly::QuerySide::Create(log.get(), views_store.get(), executor.get(),
                                       {.notifications = {.csat_max = config.notify_csat_max,
                                                          .nps_max = config.notify_nps_max}}),
      "cannot set up the query side");
  const absl::Time start = absl::Now();
  if (absl::Status s = queries->CatchUp(); !s.ok()) Fail("views catch-up", s);
  spdlog::info("caught up with the log in {} ms", absl::ToInt64Milliseconds(absl::Now() - start));
  if (absl::Status s = queries->Start(); !s.ok()) Fail("query side", s);
  if (notification_topic != nullptr) queries->StartNotificationRelay(notification_topic.get());
  crm::runtime::Process process{
      .log = log.get(),
      .folds = {{"views", views_store.get(), queries->runner()}},
      .services = queries->services(),
      .admin_executor = executor.get(),
      .org = queries->org(),
      .drained =
          [&] {
            executor->Stop();
            queries->Stop();
          },
  };
  return crm::runtime::Serve(config, process);
}
