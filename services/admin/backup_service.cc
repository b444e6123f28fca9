#include "services/admin/backup_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/eventlog/consistency_token.h"
#include "common/status/errors.h"
#include "google/protobuf/util/time_util.h"

namespace crm::services::admin {
namespace {

namespace fs = std::filesystem;
using crm::admin::v1::Backup;
using crm::admin::v1::CreateBackupRequest;

absl::Status ValidId(const std::string& id) {
  if (id.empty() || id.size() > 63) {
    return status::InvalidArgument("backup_id", "must be 1 to 63 characters of [a-z0-9-]");
  }
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return status::InvalidArgument("backup_id", "must be 1 to 63 characters of [a-z0-9-]");
    }
  }
  if (id.front() == '-') return status::InvalidArgument("backup_id", "must not start with '-'");
  return absl::OkStatus();
}

// An I/O error of the backup directory: RESOURCE_EXHAUSTED when it is full, else UNAVAILABLE.
absl::Status IoError(const std::string& what, const std::error_code& ec) {
  const absl::StatusCode code = ec == std::errc::no_space_on_device
                                    ? absl::StatusCode::kResourceExhausted
                                    : absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("backup: ", what, ": ", ec.message()));
}

// fsync of a file or directory, so a completed backup survives a crash of the machine.
absl::Status Sync(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(absl::StrCat("open ", path), {errno, std::generic_category()});
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError(absl::StrCat("fsync ", path), {err, std::generic_category()});
  return absl::OkStatus();
}

// Replaces every hard link under `dir` (a checkpoint shares the live store's table files when on
// the same file system) by a copy of its own, synced: a backup must not share the blocks whose
// damage it is there to repair.
absl::Status UnshareFiles(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() || entry.hard_link_count() < 2) continue;
    const fs::path copy = entry.path().string() + ".copy";
    fs::copy_file(entry.path(), copy, fs::copy_options::overwrite_existing, ec);
    if (ec) return IoError(absl::StrCat("copy ", entry.path().string()), ec);
    if (absl::Status s = Sync(copy.string()); !s.ok()) return s;
    fs::rename(copy, entry.path(), ec);
    if (ec) return IoError(absl::StrCat("rename ", copy.string()), ec);
  }
  if (ec) return IoError(absl::StrCat("read ", dir.string()), ec);
  return absl::OkStatus();
}

}  // namespace

Backups::Backups(std::string backup_dir, std::vector<Store> stores, eventlog::EventLog* log)
    : backup_dir_(std::move(backup_dir)), stores_(std::move(stores)), log_(log) {}

absl::StatusOr<Backup> Backups::Create(const CreateBackupRequest& request,
                                       const rpc::CallContext& call) {
  std::string id = request.backup_id();
  if (id.empty()) {
    id = absl::StrCat("b-", absl::FormatTime("%Y%m%dt%H%M%Sz", absl::Now(), absl::UTCTimeZone()),
                      "-",
                      absl::StrFormat("%04x", absl::Uniform<uint32_t>(absl::BitGen(), 0, 1 << 16)));
  }
  if (absl::Status s = ValidId(id); !s.ok()) return s;
  if (!mu_.TryLock()) {
    return status::Error(absl::StatusCode::kAborted, "another backup is being taken; retry later",
                         "BACKUP_IN_PROGRESS");
  }
  absl::StatusOr<Backup> backup = CreateLocked(id);
  mu_.Unlock();
  return backup;
}

absl::StatusOr<Backup> Backups::CreateLocked(const std::string& id) {
  const absl::Time start = absl::Now();
  const fs::path final_dir = fs::path(backup_dir_) / id;
  std::error_code ec;
  if (fs::exists(final_dir, ec)) {
    return status::Error(absl::StatusCode::kAlreadyExists,
                         absl::StrCat("backup ", id, " already exists (", final_dir.string(), ")"),
                         "BACKUP_EXISTS", {{"backup", absl::StrCat("backups/", id)}});
  }
  fs::create_directories(backup_dir_, ec);
  if (ec) return IoError(absl::StrCat("create ", backup_dir_), ec);
  const fs::path tmp = fs::path(backup_dir_) / absl::StrCat(".tmp-", id);
  fs::remove_all(tmp, ec);  // a leftover of a backup that failed before
  if (!fs::create_directory(tmp, ec) || ec)
    return IoError(absl::StrCat("create ", tmp.string()), ec);
  ::chmod(tmp.c_str(), 0700);

  Backup backup;
  backup.set_name(absl::StrCat("backups/", id));
  backup.set_path(final_dir.string());
  *backup.mutable_create_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(start));
  auto fail = [&](absl::Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };
  // Derived stores first: each copy is at or behind the log copied after it.
  for (const Store& store : stores_) {
    if (absl::Status s = store.store->Checkpoint((tmp / store.name).string()); !s.ok()) {
      return fail(s);
    }
    backup.add_stores(store.name);
  }
  if (log_ != nullptr && log_->IsLocal()) {
    // Every append answered before this call is below the end read here, and so in the copy.
    eventlog::PositionMap last;
    for (int32_t p = 0; p < log_->PartitionCount(); ++p) {
      absl::StatusOr<int64_t> end = log_->EndOffset(p);
      if (!end.ok()) return fail(end.status());
      if (*end > 0) last[p] = *end - 1;
    }
    if (absl::Status s = log_->Checkpoint((tmp / "log").string()); !s.ok()) return fail(s);
    backup.add_stores("log");
    backup.set_consistency_token(eventlog::EncodeConsistencyToken(last));
  }

  if (absl::Status s = UnshareFiles(tmp); !s.ok()) return fail(s);

  const backup::Manifest manifest{
      .name = backup.name(),
      .create_time = google::protobuf::util::TimeUtil::ToString(backup.create_time()),
      .stores = std::vector<std::string>(backup.stores().begin(), backup.stores().end()),
      .consistency_token = backup.consistency_token(),
  };
  if (absl::Status s = backup::WriteManifest(tmp.string(), manifest); !s.ok()) return fail(s);
  if (absl::Status s = Sync((tmp / backup::kManifestFile).string()); !s.ok()) return fail(s);
  if (absl::Status s = Sync(tmp.string()); !s.ok()) return fail(s);
  fs::rename(tmp, final_dir, ec);
  if (ec) return fail(IoError(absl::StrCat("rename to ", final_dir.string()), ec));
  if (absl::Status s = Sync(backup_dir_); !s.ok()) return s;
  return backup;
}

BackupService::BackupService(Backups* backups, rpc::Executor* executor)
    : rpc::ServiceTable(crm::admin::v1::BackupService::service_full_name(), executor) {
  Unary<CreateBackupRequest, Backup>(
      "CreateBackup",
      [backups](const CreateBackupRequest& request, const rpc::CallContext& call)
          -> base::Future<Backup> { return backups->Create(request, call); });
  // A backup copies every customer's data.
  AuditReads("CreateBackup", &rpc::EveryCustomer);
}

}  // namespace crm::services::admin
