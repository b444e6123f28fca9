// The manifest of a backup: the file BackupService writes last into a backup's directory
// (services/admin) and `crmctl restore` requires before it restores one (apps/crmctl). JSON with
// "name", "create_time", "stores" and "consistency_token". Header only: crmctl links no gRPC code.
#pragma once

namespace crm::backup {

// The manifest's file name in a backup's directory.
inline constexpr char kManifestFile[] = "BACKUP";

}  // namespace crm::backup
