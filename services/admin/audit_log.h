// AuditLog: the audit of reads (docs/security.md, "Audit of reads"), written to and read from an
// append-only log of its own: on the embedded engine a second EmbeddedEventLog beside the event
// log, in its store (keys "l/audit/..."), on Kafka the topic "<prefix>.audit.v1"
// (runtime::OpenAuditLog). Never the application log, never the event topic that BI consumers read.
//
// It is the rpc::Auditor of every ServiceTable of a process (common/rpc/auditor.h): each read the
// table hands it becomes one crm.admin.v1.AuditRecord (proto/crm/admin/v1/audit.proto), appended
// under the reader's subject through EventLog::AppendAsync (the embedded log's group commit;
// Kafka's idempotent producer with acks=all), and the read is released only once the append is
// durable. A failed append fails the read (UNAVAILABLE): fail closed.
//
// Metrics: crm_audit_records_total (records made durable), crm_audit_write_failures_total.
//
// Thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/eventlog/event_log.h"
#include "common/metrics/metrics.h"
#include "common/rpc/auditor.h"
#include "crm/admin/v1/audit.pb.h"

namespace crm::services::admin {

class AuditLog final : public rpc::Auditor {
 public:
  // The "record-type" header of every audit record.
  static constexpr char kRecordType[] = "crm.admin.v1.AuditRecord";

  // Does not take ownership of `log`. `server`: the binary's name, stamped into every record.
  AuditLog(eventlog::EventLog* log, std::string server);

  base::Future<base::Done> Record(rpc::ReadRecord read) override;

  eventlog::EventLog* log() const { return log_; }

  // The record a log record holds; DATA_LOSS if it does not decode.
  static absl::StatusOr<crm::admin::v1::AuditRecord> Decode(const eventlog::LogRecord& record);

 private:
  eventlog::EventLog* const log_;
  const std::string server_;
  const metrics::Counter recorded_;
  const metrics::Counter failed_;
};

}  // namespace crm::services::admin
