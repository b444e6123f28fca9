// Start-up plumbing shared by the deployables (crm-server, crm-command, crm-projector): flags
// and environment, logging, opening the event log on the chosen engine, and serving gRPC with
// health and reflection until SIGTERM/SIGINT.
//
// Configuration: every flag has an environment variable (CRM_*); flags win. Bad configuration
// exits non-zero with a clear message before anything is opened.
// Not thread-safe: used from main() only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/tls.h"
#include "grpcpp/grpcpp.h"
#include "services/access/org_authorizer.h"

namespace crm::runtime {

struct Config {
  std::string data_dir = "./data";
  // Loopback by default: other hosts reach the port only once TLS is configured, or with
  // `insecure`.
  std::string listen = "127.0.0.1:50051";
  std::string port_file;
  std::string log_level = "info";
  // Commands wait for the log on their worker; on Kafka, more waiting commands make larger
  // transactions (group commit), so the default is well above the core count.
  int workers = 16;
  int max_queued = 4096;
  // A call is refused (RESOURCE_EXHAUSTED) when the oldest call waiting for a worker has waited
  // longer than this (common/rpc/executor.h).
  std::string max_queue_delay = "1s";
  // Where BackupService writes backups; empty: "<data_dir>/backups".
  std::string backup_dir;
  // Prometheus metrics (GET /metrics) on host:port; empty: none.
  std::string metrics_listen;
  // An access log line per call (common/rpc/call.h), at info level.
  bool access_log = true;
  // Readiness turns NOT_SERVING while the process's folds are further behind the log than this
  // (apps/runtime/monitor.h).
  std::string readiness_max_lag = "30s";
  int shutdown_grace_seconds = 20;
  int max_connection_idle_seconds = 300;
  int max_connection_age_seconds = 1800;
  // Concurrent calls (HTTP/2 streams) one client connection may have open; more wait in the
  // client until one ends.
  int max_concurrent_streams = 1024;

  // Authentication (common/auth, docs/security.md): bearer tokens (JWT) from `auth_issuer` for
  // `auth_audience`, verified with the keys in `auth_keys` (PEM or JWKS, reloaded on change);
  // client-certificate identities mapped to service principals by `auth_service_identities` (a
  // JSON file). All empty: no authentication (development; the actor is x-crm-actor).
  std::string auth_issuer;
  std::string auth_audience;
  std::string auth_keys;
  std::string auth_service_identities;
  // Per-principal rate limit, "<N>/s|m|h" (empty: none), and its burst (0: N).
  std::string rate_limit_per_principal;
  int64_t rate_limit_burst = 0;

  // Transport security (common/rpc/tls.h). TLS on the gRPC port with this certificate chain and
  // private key (PEM files, read again when they change: every tls_reload_interval); client
  // certificates verified against tls_client_ca (mutual TLS), required with
  // tls_require_client_cert. The same files secure the channels to the other command replicas
  // (this replica's certificate is its client certificate; their certificates are verified
  // against tls_ca, or tls_client_ca when that is empty).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  bool tls_require_client_cert = false;
  std::string tls_ca;
  std::string tls_reload_interval = "60s";
  // Lets a plaintext port (gRPC without TLS; /metrics, which is always plaintext) listen on an
  // address other than loopback. Without it such a configuration fails start-up.
  bool insecure = false;

  // "embedded" (a RocksDB log under data_dir/log) or "kafka".
  std::string engine = "embedded";
  std::string kafka_brokers = "127.0.0.1:9092";
  std::string kafka_topic_prefix = "crm";
  int kafka_partitions = 6;
  int kafka_writers = 1;  // transactional writers the partitions are divided among; 0: one each
  int kafka_replication_factor = 1;
  int64_t kafka_retention_ms = -1;
  int kafka_delivery_timeout_ms = 15000;
  std::string kafka_group = "";  // default: "<prefix>.<binary>"
  // librdkafka properties "name=value" for every Kafka client of the process (security,
  // timeouts, ...); they win over the CRM's own settings.
  std::vector<std::string> kafka_properties;

  // Command replicas: this replica's index and every replica's gRPC address, in index order.
  // Replica i writes the partitions p with p % replicas == i (see services/customer/
  // command_router.h). Empty peers: a single writer.
  int replica_index = 0;
  std::vector<std::string> peers;

  // Complaint deadlines (command side): "severe=4h/24h,general=24h/72h,minor=48h/168h"
  // (response/resolution per severity; omitted severities keep their default), and how often the
  // deadline watcher looks for passed deadlines.
  std::string sla_policy;
  std::string sla_scan_interval = "1s";
  // How long before a complaint deadline or an interaction follow-up comes due its reminder is
  // recorded (notifications COMPLAINT_DEADLINE_DUE, FOLLOW_UP_DUE); "0" (the default): none.
  std::string notify_due_lead = "0";

  // Notifications (query side): a survey answer with a CSAT at most this, or an NPS at most
  // notify_nps_max, notifies its sender and their team lead (-1: never by that score).
  int notify_csat_max = 2;
  int notify_nps_max = 6;
  // On Kafka: publish the notifications to NotificationTopic (--publish-notifications).
  bool publish_notifications = true;
};

// Adds the flags above to `app`. `engines` lists the engines the binary accepts.
void AddFlags(CLI::App& app, Config& config, const std::vector<std::string>& engines);

// Adds --replica-index, --peers and --tls-ca (command replicas).
void AddReplicaFlags(CLI::App& app, Config& config);

// Adds --sla-policy, --sla-scan-interval and --notify-due-lead (binaries that run the command
// side).
void AddCommandFlags(CLI::App& app, Config& config);

// Adds --notify-csat-max, --notify-nps-max and --publish-notifications (binaries that run the
// query side).
void AddQueryFlags(CLI::App& app, Config& config);

// A positive duration flag ("100ms", "1s", "2m"); INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& text, const std::string& flag);
// --notify-due-lead: a positive duration, or "0" (no reminders: zero).
absl::StatusOr<absl::Duration> ParseDueLeadFlag(const std::string& text);

// Sets up JSON logging and blocks SIGTERM/SIGINT in every thread started afterwards, then checks
// the transport configuration (CheckTransport) and logs what it is. Exits with status 2 on a
// bad log level, 1 on a bad transport configuration.
void Init(const Config& config);

// The transport rules, checked before anything is opened: TLS files readable and matching
// (common/rpc/tls.h), and no plaintext port on a non-loopback address without --insecure (the
// gRPC port without TLS, the metrics port always). INVALID_ARGUMENT with what to do otherwise.
absl::Status CheckTransport(const Config& config);

// The TLS options of the gRPC port (enabled() false without --tls-cert/--tls-key).
rpc::ServerTlsOptions ServerTls(const Config& config);

// The credentials of the channels to the other command replicas: TLS with this process's
// certificate as client certificate when the gRPC port has TLS, plaintext otherwise.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PeerCredentials(const Config& config);

// Topic of the customer events: "<prefix>.customer.events.v1".
std::string CustomerTopic(const Config& config);

// Topic of the audit of reads: "<prefix>.audit.v1".
std::string AuditTopic(const Config& config);
// "<prefix>.notifications.v1": the outbound notifications (services/notification/
// notification_relay.h).
std::string NotificationTopic(const Config& config);

// Opens the audit of reads (services/admin/audit_log.h) of `config.engine`: on the embedded
// engine a log beside the event log `log`, in its store (EmbeddedEventLog::OpenBeside: one
// RocksDB, one fsync path, copied by backups, and on a full disk stopped and resumed with it);
// on Kafka the topic AuditTopic (created like the event topic, same partitions and retention),
// appended to without transactions (every process appends its own reads).
// The log the notification relay publishes to: on Kafka, with config.publish_notifications, the
// topic NotificationTopic (created like the audit topic; idempotent producer, no transactions);
// nullptr otherwise (the embedded engine has WatchNotifications only).
absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenNotificationTopic(const Config& config,
                                                                          const std::string& group);

absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenAuditLog(const Config& config,
                                                                 eventlog::EventLog* log,
                                                                 const std::string& group);

// Opens the event log of `config.engine`. For Kafka, `group` names the readers' consumer group,
// and a `writer` appends through fenced transactional producers for the partitions of
// config.replica_index (transactional ids "<prefix>.writer.p<N>", shared by crm-server and
// crm-command so that any two processes writing one partition fence each other).
absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenEventLog(const Config& config,
                                                                 const std::string& group,
                                                                 bool writer);

// A pool of config.workers threads with config.max_queued and config.max_queue_delay. Exits with
// a clear message on a bad --max-queue-delay. crm-server has one for commands and one for
// queries, so that neither can starve the other.
std::unique_ptr<rpc::Executor> NewExecutor(const Config& config);

// config.backup_dir, or "<data_dir>/backups".
std::string BackupDir(const Config& config);

// Opens the KvStore in `dir`; with `rebuild`, drops it first so that its fold starts over from
// the beginning of the log.
absl::StatusOr<std::unique_ptr<kv::KvStore>> OpenStore(const std::string& dir, bool rebuild);

// Logs `what: status` and exits 1.
[[noreturn]] void Fail(const std::string& what, const absl::Status& status);

template <typename T>
T OrFail(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Fail(what, value.status());
  return std::move(value).value();
}

// What a process serves, for Serve: its services, the log, and each local store with the runner
// that folds the log into it. From these Serve also builds what every process has in one way:
// backups (crm.admin.v1.BackupService), the admin service, health (startup, readiness,
// liveness), metrics and the progress monitor.
struct Process {
  // A store of the process and the runner that folds the log into it ("command-state",
  // "views"), listed in backup order (derived stores are copied before the log).
  struct Fold {
    std::string name;
    kv::KvStore* store = nullptr;
    fold::FoldRunner* runner = nullptr;
  };
  eventlog::EventLog* log = nullptr;
  bool writer = false;  // appends to the log (command side): readiness watches its writers
  std::vector<Fold> folds;
  std::vector<rpc::ServiceTable*> services;
  // The pool the admin and backup services run on.
  rpc::Executor* admin_executor = nullptr;
  // The org chart the process authorizes staff by (services/access), once authentication is on.
  services::access::OrgDirectory org;
  // Called once the in-flight calls drained (or the grace period ended): stop executors and
  // workers there.
  std::function<void()> drained;
};

// Serves `process` (plus grpc.health.v1 and reflection) on config.listen until SIGTERM/SIGINT,
// then turns health NOT_SERVING, drains in-flight calls for the grace period, calls
// process.drained and returns 0.
// Each service's table is checked against its proto first (a mismatch fails start-up).
int Serve(const Config& config, Process& process);

}  // namespace crm::runtime
