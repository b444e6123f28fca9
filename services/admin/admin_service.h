// crm.admin.v1.AdminService (proto/crm/admin/v1/admin_service.proto): the operator's view of one
// process and its few online operations, for crmctl. Built once per process by runtime::Serve
// from what the process hands it (its log, its stores and their fold runners), the same way in
// crm-server, crm-command and crm-projector.
//
// Why a service: an operator (or crmctl) must never open a running process's RocksDB; the
// process itself reports its folds' positions and lag, refolds a view, retries a dead letter and
// reads its log (the embedded one or the Kafka topic) on request.
//
// Thread-safe. Handlers run on the admin executor; ListEvents and GetStatus read the log (on
// Kafka a broker round trip or a short-lived consumer), bounded per call.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/admin/v1/admin_service.grpc.pb.h"

namespace crm::services::admin {

// What the admin service reports on and acts on. Pointers are not owned and must outlive it.
struct ProcessInfo {
  // "crm-server", ...; empty: the name the process was started under.
  std::string binary;
  std::string engine;    // "embedded" or "kafka"
  std::string log_name;  // the Kafka topic, or "embedded"
  eventlog::EventLog* log = nullptr;
  // The audit of reads (services/admin/audit_log.h), which ListAuditRecords reads; null: none.
  eventlog::EventLog* audit_log = nullptr;
  // Appends to the log (a command replica): it writes the partitions whose writer w has
  // w % replica_count == replica_index (EventLog::WriterOf).
  bool writer = false;
  int32_t replica_index = 0;
  int32_t replica_count = 1;
  struct Store {
    std::string name;  // "views", "command-state"
    fold::FoldRunner* runner = nullptr;
  };
  std::vector<Store> stores;
  // The health statuses the process serves (service -> status name, e.g. "SERVING"); may be
  // empty.
  std::function<std::map<std::string, std::string>()> health;
};

class Admin {
 public:
  // The longest read of the log one ListEvents call makes (records scanned, time), so a filter
  // that matches little over a long log answers in pages instead of holding a worker.
  struct Limits {
    size_t max_scanned = 20000;
    absl::Duration max_read_time = absl::Seconds(2);
  };

  explicit Admin(ProcessInfo info) : Admin(std::move(info), Limits{}) {}
  Admin(ProcessInfo info, Limits limits);

  absl::StatusOr<crm::admin::v1::ProcessStatus> GetStatus(
      const crm::admin::v1::GetStatusRequest& request, const rpc::CallContext& call);
  absl::StatusOr<crm::admin::v1::RebuildFoldsResponse> RebuildFolds(
      const crm::admin::v1::RebuildFoldsRequest& request, const rpc::CallContext& call);
  absl::StatusOr<crm::admin::v1::ListDeadLettersResponse> ListDeadLetters(
      const crm::admin::v1::ListDeadLettersRequest& request, const rpc::CallContext& call);
  absl::StatusOr<crm::admin::v1::DeadLetter> GetDeadLetter(
      const crm::admin::v1::GetDeadLetterRequest& request, const rpc::CallContext& call);
  absl::StatusOr<crm::admin::v1::RetryDeadLetterResponse> RetryDeadLetter(
      const crm::admin::v1::RetryDeadLetterRequest& request, const rpc::CallContext& call);
  absl::StatusOr<crm::admin::v1::ListEventsResponse> ListEvents(
      const crm::admin::v1::ListEventsRequest& request, const rpc::CallContext& call);
  // Bounded like ListEvents (Limits); FAILED_PRECONDITION (AUDIT_LOG_MISSING) without an audit
  // log.
  absl::StatusOr<crm::admin::v1::ListAuditRecordsResponse> ListAuditRecords(
      const crm::admin::v1::ListAuditRecordsRequest& request, const rpc::CallContext& call);

 private:
  // The store whose runner has `fold`, or nullptr.
  const ProcessInfo::Store* StoreOf(absl::string_view fold) const;
  // One bounded read of `log`'s `partitions` for a page: from `next` (a partition absent there
  // starts at 0, or at its end with `from_end`) up to the end as it was when the call began,
  // handing each record to `take`, which answers whether it went into the page; stops once
  // `page_size` did, or at Limits. Advances `next`; returns whether the end was reached.
  absl::StatusOr<bool> ScanLog(eventlog::EventLog* log, const std::vector<int32_t>& partitions,
                               bool from_end, std::map<int32_t, int64_t>& next, size_t page_size,
                               const rpc::CallContext& call,
                               const std::function<bool(const eventlog::LogRecord&)>& take);
  // The runner's progress, read from the log again if the last reading is older than 2 s.
  fold::FoldRunner::Progress Progress(fold::FoldRunner* runner);

  const ProcessInfo info_;
  const Limits limits_;
  const absl::Time start_time_;
  absl::Mutex measure_mu_;  // one MeasureProgress at a time from here
};

class AdminService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  AdminService(Admin* admin, rpc::Executor* executor);
};

}  // namespace crm::services::admin
