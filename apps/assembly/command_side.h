// CommandSide: everything a process needs to take commands, assembled once for crm-server and
// crm-command: the command-state fold (customers, plus every other aggregate kind), the
// executor, the command services of every area and the complaint deadline watcher.
//
// Lifecycle: Create, CatchUp (before serving: decisions need the whole log), Start (fold runner
// and deadline watcher threads), Stop (joins them; idempotent). Not thread-safe itself; the
// services it hands out are.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/eventlog/event_log.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "grpcpp/grpcpp.h"
#include "services/access/org_authorizer.h"
#include "services/command/command_router.h"

namespace crm::assembly {

class CommandSide {
 public:
  struct Options {
    const base::Clock* clock = base::SystemClock::Get();
    // Null: this process writes every partition.
    services::command::CommandRouter* router = nullptr;
    // --sla-policy text; empty: the default policy.
    std::string sla_policy;
    absl::Duration sla_scan_interval = absl::Seconds(1);
    // How long before a complaint deadline or a follow-up comes due the deadline watcher records
    // its reminder (ComplaintDeadlineApproaching, FollowUpDueSoon); zero: no reminders.
    absl::Duration due_reminder_lead = absl::ZeroDuration();
  };

  // Does not take ownership; all must outlive the CommandSide. INVALID_ARGUMENT for a bad
  // option (e.g. the SLA policy text).
  static absl::StatusOr<std::unique_ptr<CommandSide>> Create(eventlog::EventLog* log,
                                                             kv::KvStore* store,
                                                             rpc::Executor* executor,
                                                             Options options);
  ~CommandSide();

  absl::Status CatchUp();
  absl::Status Start();
  void Stop();

  std::vector<rpc::ServiceTable*> services() const;
  // The runner that folds the log into the store (for the process's monitor, metrics and admin
  // service).
  fold::FoldRunner* runner() const;
  // The org chart of the command state, for authorization (services/access).
  services::access::OrgDirectory org() const;

 private:
  struct Parts;
  CommandSide(eventlog::EventLog* log, std::unique_ptr<Parts> parts);
  eventlog::EventLog* const log_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace crm::assembly
