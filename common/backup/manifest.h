// The manifest of a backup: the file BackupService writes last into a backup's directory
// (services/admin) and `crmctl restore` requires before it restores one (apps/crmctl). JSON with
// "name", "create_time", "stores" and "consistency_token". Written and read only here, so the two
// sides cannot disagree on its fields.
//
// Thread-safe (no state).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::backup {

// The manifest's file name in a backup's directory.
inline constexpr char kManifestFile[] = "BACKUP";

struct Manifest {
  std::string name;         // "backups/<id>"
  std::string create_time;  // RFC 3339
  std::vector<std::string> stores;
  std::string consistency_token;  // covers every event in the backup's log
};

// Writes `manifest` into `dir`/BACKUP (not synced: the caller syncs the file and the directory).
absl::Status WriteManifest(const std::string& dir, const Manifest& manifest);

// Reads `dir`/BACKUP. NOT_FOUND if there is none, DATA_LOSS if it is not a manifest.
absl::StatusOr<Manifest> ReadManifest(const std::string& dir);

}  // namespace crm::backup
