// crmctl: offline tools for a CRM data directory.
//
//   crmctl verify --data-dir DIR
//     Opens every store under DIR (the event log, the command state, the views: each
//     subdirectory holding a RocksDB store) for reading only, replays its write-ahead log and
//     verifies every table file's checksums, as the server does at start. Prints one line per
//     store ("ok" or "damaged" with RocksDB's message naming the file) and exits 0 if all are
//     sound, 1 if any is damaged, 2 if DIR holds no store. Run it with the server stopped.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/kv/kv_store.h"

int main(int argc, char** argv) {
  CLI::App app{"crmctl: offline tools for a CRM data directory"};
  app.require_subcommand(1);
  std::string data_dir;
  CLI::App* verify = app.add_subcommand(
      "verify", "Check every store of a data directory (write-ahead logs and table checksums)");
  verify->add_option("--data-dir", data_dir, "The server's --data-dir")->required();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::filesystem::path> stores;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir, ec)) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "CURRENT")) {
      stores.push_back(entry.path());
    }
  }
  if (ec) {
    std::fprintf(stderr, "crmctl verify: %s: %s\n", data_dir.c_str(), ec.message().c_str());
    return 2;
  }
  if (stores.empty()) {
    std::fprintf(stderr, "crmctl verify: no store under %s\n", data_dir.c_str());
    return 2;
  }
  std::sort(stores.begin(), stores.end());
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
  return damaged == 0 ? 0 : 1;
}
