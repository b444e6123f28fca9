#include "apps/crmctl/offline.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/backup/manifest.h"
#include "common/kv/kv_store.h"

namespace crm::crmctl {
namespace {

namespace fs = std::filesystem;

// The stores (subdirectories holding a RocksDB store) under `dir`, sorted; nullopt if `dir`
// cannot be read.
std::optional<std::vector<fs::path>> StoresUnder(const std::string& dir, const char* command) {
  std::vector<fs::path> stores;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "CURRENT")) {
      stores.push_back(entry.path());
    }
  }
  if (ec) {
    std::fprintf(stderr, "crmctl %s: %s: %s\n", command, dir.c_str(), ec.message().c_str());
    return std::nullopt;
  }
  std::sort(stores.begin(), stores.end());
  return stores;
}

// Opens each store for reading only; prints one line per store. The number damaged.
int VerifyStores(const std::vector<fs::path>& stores) {
  int damaged = 0;
  for (const auto& path : stores) {
    auto store =
        crm::kv::KvStore::Open(path.string(), {.create_if_missing = false, .read_only = true});
    if (store.ok()) {
      std::printf("ok       %s\n", path.c_str());
    } else {
      ++damaged;
      std::printf("damaged  %s: %s\n", path.c_str(), std::string(store.status().message()).c_str());
    }
  }
  return damaged;
}

}  // namespace

int Verify(const std::string& data_dir) {
  auto stores = StoresUnder(data_dir, "verify");
  if (!stores) return 2;
  if (stores->empty()) {
    std::fprintf(stderr, "crmctl verify: no store under %s\n", data_dir.c_str());
    return 2;
  }
  return VerifyStores(*stores) == 0 ? 0 : 1;
}

namespace {

// Copies `from` into `to` (created), directories 0700 and files 0600, each file synced.
bool CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directory(to, ec);
  if (ec) {
    std::fprintf(stderr, "crmctl restore: create %s: %s\n", to.c_str(), ec.message().c_str());
    return false;
  }
  ::chmod(to.c_str(), 0700);
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    const fs::path target = to / entry.path().filename();
    if (entry.is_directory()) {
      if (!CopyTree(entry.path(), target)) return false;
      continue;
    }
    fs::copy_file(entry.path(), target, ec);
    if (ec) {
      std::fprintf(stderr, "crmctl restore: copy %s: %s\n", entry.path().c_str(),
                   ec.message().c_str());
      return false;
    }
    ::chmod(target.c_str(), 0600);
    std::FILE* f = std::fopen(target.c_str(), "rb");
    if (f == nullptr || ::fsync(fileno(f)) != 0) {
      std::fprintf(stderr, "crmctl restore: sync %s failed\n", target.c_str());
      if (f != nullptr) std::fclose(f);
      return false;
    }
    std::fclose(f);
  }
  if (ec) {
    std::fprintf(stderr, "crmctl restore: read %s: %s\n", from.c_str(), ec.message().c_str());
    return false;
  }
  return true;
}

}  // namespace

int Restore(const std::string& from, const std::string& data_dir) {
  absl::StatusOr<crm::backup::Manifest> manifest = crm::backup::ReadManifest(from);
  if (!manifest.ok()) {
    std::fprintf(stderr, "crmctl restore: %s is not a backup (no readable %s manifest)\n",
                 from.c_str(), crm::backup::kManifestFile);
    return 2;
  }
  auto stores = StoresUnder(from, "restore");
  if (!stores) return 2;
  if (stores->empty()) {
    std::fprintf(stderr, "crmctl restore: no store under %s\n", from.c_str());
    return 2;
  }
  if (VerifyStores(*stores) != 0) {
    std::fprintf(stderr, "crmctl restore: the backup %s is damaged; restore another one\n",
                 from.c_str());
    return 1;
  }
  std::error_code ec;
  const fs::path target = fs::path(data_dir).lexically_normal();
  if (fs::exists(target, ec) && !(fs::is_directory(target, ec) && fs::is_empty(target, ec))) {
    std::fprintf(stderr,
                 "crmctl restore: %s is not empty; move it aside first (e.g. mv %s %s.damaged), "
                 "then restore\n",
                 target.c_str(), target.c_str(), target.c_str());
    return 2;
  }
  const fs::path staging = fs::path(target.string() + ".restoring");
  fs::remove_all(staging, ec);
  const mode_t old_umask = ::umask(077);
  const bool copied = CopyTree(from, staging);
  ::umask(old_umask);
  if (!copied) {
    fs::remove_all(staging, ec);
    return 2;
  }
  fs::remove(staging / crm::backup::kManifestFile, ec);  // a data directory, not a backup
  fs::rename(staging, target, ec);
  if (ec) {
    std::fprintf(stderr, "crmctl restore: rename %s to %s: %s\n", staging.c_str(), target.c_str(),
                 ec.message().c_str());
    return 2;
  }
  ::sync();
  std::printf("restored %s (%s, taken %s) into %s\n", manifest->name.c_str(), from.c_str(),
              manifest->create_time.c_str(), target.c_str());
  const std::string token = manifest->consistency_token;
  if (!token.empty()) {
    std::printf("holds every command acknowledged before the backup (consistency token %s)\n",
                token.c_str());
  }
  return 0;
}

}  // namespace crm::crmctl
