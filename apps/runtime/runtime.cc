#include "apps/runtime/runtime.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "apps/runtime/gate.h"
#include "apps/runtime/monitor.h"
#include "common/base/status_macros.h"
#include "common/eventlog/embedded_event_log.h"
#include "common/kafka/kafka_event_log.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/rpc/call.h"
#include "common/rpc/health_service.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "services/admin/admin_service.h"
#include "services/admin/audit_log.h"
#include "services/admin/backup_service.h"
#include "spdlog/spdlog.h"

namespace crm::runtime {
namespace {

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

void WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
  }
  std::filesystem::rename(tmp, path);
}

// What crm.admin.v1.AdminService reports on and acts on.
// The binary's name ("crm-server"), as the kernel knows it.
std::string ProcessName() {
  std::ifstream in("/proc/self/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

services::admin::ProcessInfo AdminInfo(const Config& config, const Process& process,
                                       rpc::HealthService* health) {
  services::admin::ProcessInfo info{
      .engine = config.engine,
      .log_name = config.engine == "kafka" ? CustomerTopic(config) : "embedded",
      .log = process.log,
      .writer = process.writer,
      .replica_index = config.replica_index,
      .replica_count = config.peers.empty() ? 1 : static_cast<int32_t>(config.peers.size()),
      .health = [health] {
        std::map<std::string, std::string> out;
        for (const auto& [service, status] : health->Statuses()) {
          out[service] = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(status);
        }
        return out;
      }};
  for (const Process::Fold& f : process.folds) info.stores.push_back({f.name, f.runner});
  return info;
}

// What the gRPC and metrics ports are, in the log: nobody should have to guess whether a port is
// encrypted or who may reach it.
void LogTransport(const Config& config) {
  const rpc::ServerTlsOptions tls = ServerTls(config);
  if (tls.enabled()) {
    const std::string cert = rpc::DescribeCertificate(tls.cert_file).value_or("?");
    const char* clients = tls.client_ca_file.empty() ? "not asked for"
                          : tls.require_client_cert  ? "required"
                                                     : "optional (verified when presented)";
    spdlog::info(
        "transport: TLS on {} with certificate {} ({}); client certificates {}; files looked at "
        "every {}",
        config.listen, tls.cert_file, cert, clients, absl::FormatDuration(tls.reload_interval));
  } else if (rpc::IsLoopbackAddress(config.listen)) {
    spdlog::info(
        "transport: plaintext on {}, loopback only: no TLS configured (--tls-cert, --tls-key), so "
        "only this host can connect; configure TLS, or pass --insecure to listen elsewhere in "
        "plaintext",
        config.listen);
  } else {
    spdlog::warn(
        "transport: PLAINTEXT on {} (--insecure): anyone who reaches this address can read and "
        "send calls in clear text",
        config.listen);
  }
  if (!config.metrics_listen.empty() && !rpc::IsLoopbackAddress(config.metrics_listen)) {
    spdlog::warn("transport: /metrics in plaintext on {} (--insecure)", config.metrics_listen);
  }
}

}  // namespace

void AddFlags(CLI::App& app, Config& config, const std::vector<std::string>& engines) {
  // A flag given twice keeps its last value, so wrappers can append overrides.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--data-dir", config.data_dir, "Directory for local state (log, views)")
      ->envname("CRM_DATA_DIR");
  app.add_option("--listen", config.listen,
                 "gRPC address host:port (port 0: any free port). Without TLS only a loopback "
                 "address, unless --insecure")
      ->envname("CRM_LISTEN")
      ->capture_default_str();
  app.add_option("--tls-cert", config.tls_cert,
                 "TLS on the gRPC port: the server's certificate chain (PEM file, read again "
                 "when it changes); with --tls-key")
      ->envname("CRM_TLS_CERT");
  app.add_option("--tls-key", config.tls_key, "The private key of --tls-cert (PEM file)")
      ->envname("CRM_TLS_KEY");
  app.add_option("--tls-client-ca", config.tls_client_ca,
                 "Mutual TLS: verify client certificates against these CA certificates (PEM "
                 "file); callers are identified by their certificate's SPIFFE ID or CN")
      ->envname("CRM_TLS_CLIENT_CA");
  app.add_flag("--tls-require-client-cert", config.tls_require_client_cert,
               "With --tls-client-ca: refuse clients without a valid certificate (default: "
               "optional, but a certificate that is presented must be valid)")
      ->envname("CRM_TLS_REQUIRE_CLIENT_CERT");
  app.add_option("--tls-reload-interval", config.tls_reload_interval,
                 "How often the TLS files are looked at for changes, e.g. 60s")
      ->envname("CRM_TLS_RELOAD_INTERVAL");
  app.add_flag("--insecure", config.insecure,
               "Allow plaintext ports on non-loopback addresses: gRPC without TLS, and "
               "/metrics (never TLS). Without it such a configuration fails start-up")
      ->envname("CRM_INSECURE");
  app.add_option("--port-file", config.port_file,
                 "Write the bound gRPC port to this file once serving")
      ->envname("CRM_PORT_FILE");
  app.add_option("--log-level", config.log_level, "trace, debug, info, warn or error")
      ->envname("CRM_LOG_LEVEL");
  app.add_option("--workers", config.workers, "Threads that run RPC handlers")
      ->envname("CRM_WORKERS")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-queued", config.max_queued,
                 "Calls waiting for a worker before new ones get RESOURCE_EXHAUSTED")
      ->envname("CRM_MAX_QUEUED")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--max-queue-delay", config.max_queue_delay,
                 "Refuse new calls (RESOURCE_EXHAUSTED) while the oldest queued call has waited "
                 "this long for a worker")
      ->envname("CRM_MAX_QUEUE_DELAY");
  app.add_option("--backup-dir", config.backup_dir,
                 "Where BackupService writes backups (default: <data-dir>/backups)")
      ->envname("CRM_BACKUP_DIR");
  app.add_option("--metrics-listen", config.metrics_listen,
                 "Serve Prometheus metrics (GET /metrics) on host:port, e.g. 0.0.0.0:9464 (port "
                 "0: any free port); empty: no metrics")
      ->envname("CRM_METRICS_LISTEN");
  app.add_option("--access-log", config.access_log,
                 "Log one line per call (method, code, latency, peer, request and correlation "
                 "ids; never request fields) at info level: true or false")
      ->envname("CRM_ACCESS_LOG");
  app.add_option("--readiness-max-lag", config.readiness_max_lag,
                 "Report NOT_SERVING (readiness) while the views or command state are further "
                 "behind the event log than this, e.g. 30s")
      ->envname("CRM_READINESS_MAX_LAG");
  app.add_option("--max-connection-idle-seconds", config.max_connection_idle_seconds,
                 "Close a client connection with no call for this long")
      ->envname("CRM_MAX_CONNECTION_IDLE_SECONDS")
      ->check(CLI::Range(1, 86400));
  app.add_option("--max-connection-age-seconds", config.max_connection_age_seconds,
                 "Ask a client to reconnect after this long (calls in flight finish first)")
      ->envname("CRM_MAX_CONNECTION_AGE_SECONDS")
      ->check(CLI::Range(10, 7 * 86400));
  app.add_option("--max-concurrent-streams", config.max_concurrent_streams,
                 "Concurrent calls one client connection may have open (HTTP/2 streams)")
      ->envname("CRM_MAX_CONCURRENT_STREAMS")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--shutdown-grace-seconds", config.shutdown_grace_seconds,
                 "How long SIGTERM waits for in-flight calls")
      ->envname("CRM_SHUTDOWN_GRACE_SECONDS")
      ->check(CLI::Range(0, 3600));
  app.add_option("--engine", config.engine, "Event log engine")
      ->envname("CRM_ENGINE")
      ->check(CLI::IsMember(engines));
  app.add_option("--kafka-brokers", config.kafka_brokers, "Kafka bootstrap servers")
      ->envname("CRM_KAFKA_BROKERS");
  app.add_option("--kafka-topic-prefix", config.kafka_topic_prefix,
                 "Topics are <prefix>.customer.events.v1 and so on")
      ->envname("CRM_KAFKA_TOPIC_PREFIX");
  app.add_option("--kafka-partitions", config.kafka_partitions,
                 "Partitions of topics this process creates")
      ->envname("CRM_KAFKA_PARTITIONS")
      ->check(CLI::Range(1, 10000));
  app.add_option("--kafka-writers", config.kafka_writers,
                 "crm-command: transactional writers the partitions are divided among "
                 "(partition p: writer p % N; 0: one per partition); one transaction spans a "
                 "writer's partitions; at most N replicas. Fixed for a deployment (docs/kafka.md)")
      ->envname("CRM_KAFKA_WRITERS")
      ->check(CLI::Range(0, 10000));
  app.add_option("--kafka-replication-factor", config.kafka_replication_factor,
                 "Replication factor of topics this process creates")
      ->envname("CRM_KAFKA_REPLICATION_FACTOR")
      ->check(CLI::Range(1, 32));
  app.add_option("--kafka-retention-ms", config.kafka_retention_ms,
                 "retention.ms of topics this process creates (-1: forever)")
      ->envname("CRM_KAFKA_RETENTION_MS");
  app.add_option("--kafka-delivery-timeout-ms", config.kafka_delivery_timeout_ms,
                 "How long the producer retries an event before the command fails")
      ->envname("CRM_KAFKA_DELIVERY_TIMEOUT_MS")
      // Kafka brokers cap transactions at transaction.max.timeout.ms (15 min by default).
      ->check(CLI::Range(1000, 800000));
  app.add_option("--kafka-group", config.kafka_group,
                 "Consumer group id (offsets there are informational only)")
      ->envname("CRM_KAFKA_GROUP");
  app.add_option("--kafka-property", config.kafka_properties,
                 "A librdkafka property NAME=VALUE for every Kafka client of the process (e.g. "
                 "security.protocol=SSL, socket.timeout.ms=10000); repeatable, or ';'-separated; "
                 "wins over the CRM's own settings")
      ->envname("CRM_KAFKA_PROPERTIES")
      ->delimiter(';')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  AddGateFlags(app, config);
}

void AddReplicaFlags(CLI::App& app, Config& config) {
  app.add_option("--replica-index", config.replica_index, "This command replica's index in --peers")
      ->envname("CRM_REPLICA_INDEX")
      ->check(CLI::Range(0, 1023));
  app.add_option("--peers", config.peers,
                 "gRPC addresses of all command replicas, in index order (comma-separated)")
      ->envname("CRM_PEERS")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--tls-ca", config.tls_ca,
                 "With TLS: verify the other replicas' server certificates against these CA "
                 "certificates (PEM file; default: --tls-client-ca)")
      ->envname("CRM_TLS_CA");
}

void AddCommandFlags(CLI::App& app, Config& config) {
  app.add_option("--sla-policy", config.sla_policy,
                 "Complaint deadlines per severity and customer value tier, "
                 "[<tier>.]<severity>=<response>/<resolution>, comma-separated; tier vip, "
                 "ordinary or potential (an entry without one is for every tier; vip without "
                 "one gets half of it), e.g. \"severe=4h/24h,general=24h/72h,minor=48h/168h,"
                 "vip.severe=2h/12h\" (omitted: the default, "
                 "severe=4h/24h,general=24h/72h,minor=48h/168h,vip.severe=2h/12h,"
                 "vip.general=12h/36h,vip.minor=24h/84h). New complaints only: filed ones keep "
                 "their deadlines")
      ->envname("CRM_SLA_POLICY");
  app.add_option("--sla-scan-interval", config.sla_scan_interval,
                 "How often the deadline watcher looks for passed complaint SLA and survey answer "
                 "deadlines (e.g. 1s)")
      ->envname("CRM_SLA_SCAN_INTERVAL");
  app.add_option("--notify-due-lead", config.notify_due_lead,
                 "How long before a complaint's response or resolution deadline, or an "
                 "interaction's follow-up, comes due the deadline watcher records a reminder "
                 "(notifications COMPLAINT_DEADLINE_DUE, FOLLOW_UP_DUE), if the step is still "
                 "open (e.g. 1h); 0 (the default): no reminders, so no new event types appear on "
                 "the event stream until an operator turns them on")
      ->envname("CRM_NOTIFY_DUE_LEAD");
}

absl::StatusOr<absl::Duration> ParseDueLeadFlag(const std::string& text) {
  if (text == "0") return absl::ZeroDuration();
  return ParseDurationFlag(text, "--notify-due-lead");
}

void AddQueryFlags(CLI::App& app, Config& config) {
  app.add_option("--notify-csat-max", config.notify_csat_max,
                 "A survey answer with a CSAT at most this notifies its sender and their team "
                 "lead (LOW_SURVEY_ANSWER); -1: never by CSAT")
      ->check(CLI::Range(-1, 5))
      ->envname("CRM_NOTIFY_CSAT_MAX");
  app.add_option("--notify-nps-max", config.notify_nps_max,
                 "A survey answer with an NPS at most this notifies its sender and their team "
                 "lead (LOW_SURVEY_ANSWER); -1: never by NPS")
      ->check(CLI::Range(-1, 10))
      ->envname("CRM_NOTIFY_NPS_MAX");
  app.add_option("--publish-notifications", config.publish_notifications,
                 "On Kafka: publish the notifications to the topic <prefix>.notifications.v1 "
                 "(false: Watch/List only, e.g. on all but one projector replica)")
      ->envname("CRM_PUBLISH_NOTIFICATIONS");
}

absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& text, const std::string& flag) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " must be a positive duration such as 100ms, 1s or 2m, not \"", text, "\""));
  }
  return d;
}

void Init(const Config& config) {
  if (absl::Status s = log::Init(config.log_level); !s.ok()) {
    fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    std::exit(2);
  }
  if (absl::Status s = CheckTransport(config); !s.ok()) Fail("bad configuration", s);
  LogTransport(config);
  sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Customer data: every file and directory the process creates is its user's alone.
  umask(077);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex lock would also update a
  // lock-order graph (deadlock detection, a few per cent of a busy process). The tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Authentication and limits are checked before anything is opened (Serve builds them again).
  if (absl::Status gate = MakeGate(config).status(); !gate.ok()) Fail("bad configuration", gate);
}

absl::Status CheckTransport(const Config& config) {
  if (absl::StatusOr<absl::Duration> d =
          ParseDurationFlag(config.tls_reload_interval, "--tls-reload-interval");
      !d.ok()) {
    return d.status();
  }
  const rpc::ServerTlsOptions tls = ServerTls(config);
  if (tls.enabled()) {
    CRM_RETURN_IF_ERROR(rpc::CheckServerTls(tls));
  } else {
    for (const auto* flag : {&config.tls_client_ca, &config.tls_ca}) {
      if (!flag->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag == &config.tls_ca ? "--tls-ca" : "--tls-client-ca",
                         " is set but TLS is not: give --tls-cert and --tls-key too"));
      }
    }
    if (config.tls_require_client_cert) {
      return absl::InvalidArgumentError(
          "--tls-require-client-cert is set but TLS is not: give --tls-cert, --tls-key and "
          "--tls-client-ca too");
    }
    if (!config.insecure && !rpc::IsLoopbackAddress(config.listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--listen ", config.listen,
          " is not a loopback address and no TLS is configured: configure TLS (--tls-cert and "
          "--tls-key, docs/security.md), listen on 127.0.0.1, or pass --insecure (CRM_INSECURE="
          "true) to serve plaintext gRPC to other hosts"));
    }
  }
  if (!config.metrics_listen.empty() && !config.insecure &&
      !rpc::IsLoopbackAddress(config.metrics_listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics-listen ", config.metrics_listen,
        " is not a loopback address: /metrics is served in plaintext (no TLS), so it listens "
        "on loopback only unless --insecure (CRM_INSECURE=true) says otherwise"));
  }
  if (tls.enabled() && !config.peers.empty()) {
    rpc::ClientTlsOptions peer_tls{
        .ca_file = config.tls_ca.empty() ? config.tls_client_ca : config.tls_ca,
        .cert_file = config.tls_cert,
        .key_file = config.tls_key};
    CRM_RETURN_IF_ERROR(rpc::CheckClientTls(peer_tls));
  }
  return absl::OkStatus();
}

rpc::ServerTlsOptions ServerTls(const Config& config) {
  rpc::ServerTlsOptions tls{.cert_file = config.tls_cert,
                            .key_file = config.tls_key,
                            .client_ca_file = config.tls_client_ca,
                            .require_client_cert = config.tls_require_client_cert};
  if (absl::StatusOr<absl::Duration> d =
          ParseDurationFlag(config.tls_reload_interval, "--tls-reload-interval");
      d.ok()) {
    tls.reload_interval = *d;
  }
  return tls;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PeerCredentials(const Config& config) {
  const rpc::ServerTlsOptions server = ServerTls(config);
  if (!server.enabled()) return grpc::InsecureChannelCredentials();
  return rpc::MakeChannelCredentials(
      {.ca_file = config.tls_ca.empty() ? config.tls_client_ca : config.tls_ca,
       .cert_file = config.tls_cert,
       .key_file = config.tls_key,
       .reload_interval = server.reload_interval});
}

std::string CustomerTopic(const Config& config) {
  return absl::StrCat(config.kafka_topic_prefix, ".customer.events.v1");
}

std::string AuditTopic(const Config& config) {
  return absl::StrCat(config.kafka_topic_prefix, ".audit.v1");
}

std::string NotificationTopic(const Config& config) {
  return absl::StrCat(config.kafka_topic_prefix, ".notifications.v1");
}

namespace {

// The options of a Kafka log on `topic` shared by every Kafka log of the process.
absl::StatusOr<eventlog::KafkaEventLogOptions> KafkaOptions(const Config& config,
                                                            const std::string& topic,
                                                            const std::string& group) {
  eventlog::KafkaEventLogOptions options;
  options.brokers = config.kafka_brokers;
  options.topic = topic;
  options.partitions = config.kafka_partitions;
  options.replication_factor = static_cast<int16_t>(config.kafka_replication_factor);
  options.retention_ms = config.kafka_retention_ms;
  options.delivery_timeout = absl::Milliseconds(config.kafka_delivery_timeout_ms);
  options.group_id = config.kafka_group.empty() ? group : config.kafka_group;
  options.client_id = group;
  for (const std::string& property : config.kafka_properties) {
    const size_t eq = property.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kafka-property: expected NAME=VALUE, not \"", property, "\""));
    }
    options.extra_config.emplace_back(property.substr(0, eq), property.substr(eq + 1));
  }
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenEventLog(const Config& config,
                                                                 const std::string& group,
                                                                 bool writer) {
  if (config.engine == "embedded") {
    auto log = eventlog::EmbeddedEventLog::Open(config.data_dir + "/log");
    if (!log.ok()) return log.status();
    return std::unique_ptr<eventlog::EventLog>(std::move(*log));
  }
  CRM_ASSIGN_OR_RETURN(eventlog::KafkaEventLogOptions options,
                       KafkaOptions(config, CustomerTopic(config), group));
  if (writer) {
    options.transactional_id_prefix = absl::StrCat(config.kafka_topic_prefix, ".writer");
    options.writers = config.kafka_writers;
    options.replica_index = config.replica_index;
    options.replica_count = config.peers.empty() ? 1 : static_cast<int32_t>(config.peers.size());
  }
  auto log = eventlog::KafkaEventLog::Open(options, absl::Seconds(30));
  if (!log.ok()) return log.status();
  spdlog::info("Kafka topic {} with {} partitions", options.topic, (*log)->PartitionCount());
  return std::unique_ptr<eventlog::EventLog>(std::move(*log));
}

namespace {

// A Kafka topic this process appends its own records to (created like the event topic if
// absent): the idempotent producer, no transactions.
absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenOwnTopic(const Config& config,
                                                                 const std::string& topic,
                                                                 const std::string& group,
                                                                 const char* what) {
  CRM_ASSIGN_OR_RETURN(eventlog::KafkaEventLogOptions options, KafkaOptions(config, topic, group));
  auto log = eventlog::KafkaEventLog::Open(options, absl::Seconds(30));
  if (!log.ok()) return log.status();
  spdlog::info("{}: Kafka topic {} with {} partitions", what, options.topic,
               (*log)->PartitionCount());
  return std::unique_ptr<eventlog::EventLog>(std::move(*log));
}

}  // namespace

absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenAuditLog(const Config& config,
                                                                 eventlog::EventLog* log,
                                                                 const std::string& group) {
  if (auto* embedded = dynamic_cast<eventlog::EmbeddedEventLog*>(log); embedded != nullptr) {
    // Written to the write-ahead log before the read is answered, without an fsync each
    // (docs/security.md: a process crash loses none, a power loss the last moments').
    auto audit = eventlog::EmbeddedEventLog::OpenBeside(*embedded, "audit", /*count_writes=*/false,
                                                        /*sync=*/false);
    if (!audit.ok()) return audit.status();
    return std::unique_ptr<eventlog::EventLog>(std::move(*audit));
  }
  // Every process appends its own reads, so no fenced writers: the idempotent producer.
  return OpenOwnTopic(config, AuditTopic(config), group, "audit of reads");
}

absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenNotificationTopic(
    const Config& config, const std::string& group) {
  if (config.engine != "kafka" || !config.publish_notifications) {
    return std::unique_ptr<eventlog::EventLog>();
  }
  return OpenOwnTopic(config, NotificationTopic(config), group, "notifications published");
}

std::unique_ptr<rpc::Executor> NewExecutor(const Config& config) {
  const absl::Duration max_queue_delay =
      OrFail(ParseDurationFlag(config.max_queue_delay, "--max-queue-delay"), "bad configuration");
  return std::make_unique<rpc::Executor>(config.workers, config.max_queued, max_queue_delay);
}

std::string BackupDir(const Config& config) {
  return config.backup_dir.empty() ? config.data_dir + "/backups" : config.backup_dir;
}

absl::StatusOr<std::unique_ptr<kv::KvStore>> OpenStore(const std::string& dir, bool rebuild) {
  if (rebuild) {
    spdlog::info("rebuild: dropping {}", dir);
    if (absl::Status s = kv::KvStore::Destroy(dir); !s.ok()) return s;
  }
  return kv::KvStore::Open(dir);
}

void Fail(const std::string& what, const absl::Status& status) {
  spdlog::critical("{}: {}", what, status.ToString());
  spdlog::shutdown();
  std::exit(1);
}

int Serve(const Config& config, Process& process) {
  rpc::HealthService health;
  // Views and command state are copied before the log they fold (services/admin).
  std::vector<services::admin::Backups::Store> backup_stores;
  for (const Process::Fold& f : process.folds) backup_stores.push_back({f.name, f.store});
  services::admin::Backups backups(BackupDir(config), backup_stores, process.log);
  services::admin::BackupService backup_service(&backups, process.admin_executor);
  // The audit of reads (docs/security.md): every process records the reads it answers.
  std::unique_ptr<eventlog::EventLog> audit_log =
      OrFail(OpenAuditLog(config, process.log, config.kafka_topic_prefix + ".audit"),
             "cannot open the audit log");
  services::admin::AuditLog auditor(audit_log.get(), ProcessName());
  services::admin::ProcessInfo admin_info = AdminInfo(config, process, &health);
  admin_info.audit_log = audit_log.get();
  services::admin::Admin admin(std::move(admin_info));
  services::admin::AdminService admin_service(&admin, process.admin_executor);
  std::vector<rpc::ServiceTable*> services = process.services;
  services.push_back(&backup_service);
  services.push_back(&admin_service);
  const std::function<void()>& drained = process.drained;
  for (const rpc::ServiceTable* s : services) {
    if (absl::Status valid = s->Validate(); !valid.ok()) Fail("service table", valid);
  }
  const Gate gate = OrFail(MakeGate(config), "bad configuration");
  LogGate(config, gate);
  for (rpc::ServiceTable* s : services) {
    s->SetGatekeeper(gate.gatekeeper.get());
    s->SetAuditor(&auditor);
  }
  // Authorization from the org chart, once callers are authenticated (docs/security.md).
  std::unique_ptr<services::access::OrgAuthorizer> authorizer;
  if (gate.authenticator != nullptr) {
    authorizer = std::make_unique<services::access::OrgAuthorizer>(process.org);
    for (rpc::ServiceTable* s : services) s->SetAuthorizer(authorizer.get());
    spdlog::info(
        "authorization: roles from the org chart, service accounts by scope "
        "(crm.read, crm.write, crm.admin)");
  }
  const absl::Duration max_lag = OrFail(
      ParseDurationFlag(config.readiness_max_lag, "--readiness-max-lag"), "bad configuration");
  rpc::SetAccessLog(config.access_log);
  std::unique_ptr<metrics::Server> metrics_server;
  if (!config.metrics_listen.empty()) {
    metrics_server =
        OrFail(metrics::Server::Start(config.metrics_listen, metrics::Registry::Default()),
               "cannot serve metrics");
    spdlog::info("serving metrics on port {} (GET /metrics)", metrics_server->port());
  }
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  const rpc::ServerTlsOptions tls = ServerTls(config);
  std::shared_ptr<grpc::ServerCredentials> credentials =
      tls.enabled() ? OrFail(rpc::MakeServerCredentials(tls), "bad configuration")
                    : grpc::InsecureServerCredentials();
  builder.AddListeningPort(config.listen, credentials, &port);
  // Requests up to 8 MiB reach our parser, which refuses anything over 1 MiB with
  // INVALID_ARGUMENT naming the limit; beyond 8 MiB gRPC answers RESOURCE_EXHAUSTED itself.
  builder.SetMaxReceiveMessageSize(8 << 20);
  // Connection hygiene: idle connections are closed, every connection is recycled (clients
  // reconnect, spreading over replicas), dead peers are found by keepalive pings, and clients
  // that ping too often are cut off.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             config.max_connection_idle_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             config.max_connection_age_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             (config.shutdown_grace_seconds + 30) * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  // One connection cannot hold more than this many calls open at once (gRPC's default is
  // unbounded); the per-principal rate limit and the executors' queues bound the rest.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, config.max_concurrent_streams);
  for (rpc::ServiceTable* s : services) builder.RegisterService(s);
  builder.RegisterService(&health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    Fail("cannot listen on " + config.listen, absl::UnavailableError("bind failed"));
  }
  // Readiness ("" and every service): the monitor's verdict, measured before the first answer.
  std::vector<Monitor::Store> monitored;
  for (const Process::Fold& f : process.folds) {
    monitored.push_back({f.name, f.runner, absl::StrCat(config.data_dir, "/", f.name)});
  }
  if (process.log->IsLocal()) monitored.push_back({"log", nullptr, config.data_dir + "/log"});
  std::vector<std::string> service_names;
  for (const rpc::ServiceTable* s : services) service_names.push_back(s->service_name());
  std::set<rpc::Executor*> pools;
  for (const rpc::ServiceTable* s : services) pools.insert(s->executor());
  Monitor monitor(process.log, process.writer, monitored, &health, service_names,
                  {.max_lag = max_lag, .executors = {pools.begin(), pools.end()}});
  monitor.Start();
  if (!config.port_file.empty()) WritePortFile(config.port_file, port);
  spdlog::info("serving gRPC on port {} ({})", port, tls.enabled() ? "TLS" : "plaintext");

  sigset_t signals = StopSignals();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("signal {}: draining in-flight calls", signal_number);
  monitor.Stop();
  health.Shutdown();
  // Shutdown waits for the calls in flight until the grace period ends and then cancels the
  // rest, but a call cancelled while it waits (for the log, a token, a lock) answers only when
  // its wait ends. At the end of the grace period, stopping the services ends every such wait.
  std::once_flag drain_once;
  auto drain = [&] { std::call_once(drain_once, drained); };
  absl::Notification shut_down;
  const absl::Duration grace = absl::Seconds(config.shutdown_grace_seconds);
  std::thread watchdog([&] {
    if (!shut_down.WaitForNotificationWithTimeout(grace)) {
      spdlog::warn("grace period of {} over: cancelling the calls still in flight",
                   absl::FormatDuration(grace));
      drain();
    }
  });
  server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  shut_down.Notify();
  watchdog.join();
  drain();
  server->Wait();
  spdlog::info("stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace crm::runtime
