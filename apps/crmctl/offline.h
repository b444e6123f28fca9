// crmctl's offline tools, for the data directory of a stopped server (they open its RocksDB
// stores themselves, which a running server must never have done to it): verify and restore.
// What they do and their exit codes: main.cc's header comment. Not thread-safe (one command).
#pragma once

#include <string>

namespace crm::crmctl {

// Opens every store under `data_dir` read-only; one line per store. 0 sound, 1 damaged, 2 no store.
int Verify(const std::string& data_dir);

// Makes `data_dir` (absent or empty) a copy of the backup `from`. 0 restored, 1 the backup is
// damaged, 2 a bad backup or target.
int Restore(const std::string& from, const std::string& data_dir);

}  // namespace crm::crmctl
