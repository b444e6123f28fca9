#include "services/admin/audit_log.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/base/time_util.h"
#include "spdlog/spdlog.h"

namespace crm::services::admin {

AuditLog::AuditLog(eventlog::EventLog* log, std::string server)
    : log_(log),
      server_(std::move(server)),
      recorded_(metrics::Registry::Default()
                    .Counters("crm_audit_records_total",
                              "Audit records of reads of customers' personal data made durable "
                              "(docs/security.md, \"Audit of reads\").")
                    .Add({})),
      failed_(metrics::Registry::Default()
                  .Counters("crm_audit_write_failures_total",
                            "Audit records that could not be written; each withheld a read's "
                            "answer (the call answered UNAVAILABLE).")
                  .Add({})) {}

base::Future<base::Done> AuditLog::Record(rpc::ReadRecord read) {
  crm::admin::v1::AuditRecord record;
  const absl::Time now = absl::Now();
  *record.mutable_record_time() = base::ToTimestamp(now);
  record.set_subject(read.subject);
  record.set_principal_kind(read.principal_kind);
  record.set_peer_identity(read.peer_identity);
  record.set_method(read.method);
  record.set_correlation_id(read.correlation_id);
  record.set_request_id(read.request_id);
  for (std::string& customer : read.customers) record.add_customers(std::move(customer));
  record.set_server(server_);
  std::vector<eventlog::AppendValue> values(1);
  values[0].value = record.SerializeAsString();
  values[0].headers = {{"record-type", kRecordType},
                       {"content-type", "application/protobuf"},
                       {"ce_time", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())}};
  base::Promise<base::Done> promise;
  base::Future<base::Done> done = promise.future();
  log_->AppendAsync(read.subject, std::move(values), read.deadline)
      .OnReady([this, promise = std::move(promise), method = std::move(read.method)](
                   absl::StatusOr<eventlog::LogPosition> appended) mutable {
        if (appended.ok()) {
          recorded_.Increment();
          promise.Set(base::Done{});
          return;
        }
        failed_.Increment();
        spdlog::error("audit record of a read through {} not written: {}", method,
                      appended.status().ToString());
        promise.Set(appended.status());
      });
  return done;
}

absl::StatusOr<crm::admin::v1::AuditRecord> AuditLog::Decode(const eventlog::LogRecord& record) {
  crm::admin::v1::AuditRecord out;
  if (!out.ParseFromString(record.value)) {
    return absl::DataLossError(absl::StrCat("audit record at ", record.position.partition, "-",
                                            record.position.offset, " does not decode"));
  }
  return out;
}

}  // namespace crm::services::admin
