// Online backups of a process's local stores: crm.admin.v1.BackupService
// (proto/crm/admin/v1/backup_service.proto says what a backup holds and how to restore it).
//
// Why: the embedded event log is the system of record of a single-node deployment; a damaged
// disk or file must have a way back that keeps every command acknowledged before the backup.
//
// How: each store is copied with a RocksDB checkpoint (kv::KvStore::Checkpoint: a flush first,
// writes go on) into a hidden directory under the backup directory, derived stores first and the
// event log last (so no copied view or command state is ahead of the copied log). Table files
// the checkpoint hard-linked (same file system) are then replaced by copies of their own: a
// damaged live file must never damage its backup. Then a BACKUP manifest is written and the
// directory renamed to the backup's id and synced. A failed backup leaves nothing under its id.
//
// Thread-safe; one backup is taken at a time (a second concurrent call answers ABORTED).
#pragma once

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/backup/manifest.h"
#include "common/eventlog/event_log.h"
#include "common/kv/kv_store.h"
#include "common/rpc/executor.h"
#include "common/rpc/service_table.h"
#include "common/rpc/unary.h"
#include "crm/admin/v1/backup_service.grpc.pb.h"

namespace crm::services::admin {

class Backups {
 public:
  // A derived store of the process (its fold of the log), copied under `name`.
  struct Store {
    std::string name;
    const kv::KvStore* store;
  };
  // Does not take ownership. `stores` are copied in order, then `log` if it is local (under
  // "log"). `backup_dir` is created (0700) at the first backup if missing.
  Backups(std::string backup_dir, std::vector<Store> stores, eventlog::EventLog* log);

  absl::StatusOr<crm::admin::v1::Backup> Create(const crm::admin::v1::CreateBackupRequest& request,
                                                const rpc::CallContext& call);

 private:
  absl::StatusOr<crm::admin::v1::Backup> CreateLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string backup_dir_;
  const std::vector<Store> stores_;
  eventlog::EventLog* const log_;
  absl::Mutex mu_;  // held while a backup is taken
};

class BackupService final : public rpc::ServiceTable {
 public:
  // Does not take ownership.
  BackupService(Backups* backups, rpc::Executor* executor);
};

}  // namespace crm::services::admin
