// KvStore: an ordered, durable key-value store for views and command-side state, wrapping RocksDB
// so that no RocksDB type leaks out of common/.
//
// Why: every projection writes its view change and its log position in one atomic batch
// (KvBatch), which is what makes folds exactly-once across crashes.
//
// Thread-safe: all methods may be called concurrently. A KvBatch is not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::kv {

class KvStore;

// A set of writes applied atomically by KvStore::Write. Get() reads through the batch: it sees
// the batch's own pending writes first, then the store.
class KvBatch {
 public:
  ~KvBatch();
  KvBatch(KvBatch&&) noexcept;
  KvBatch& operator=(KvBatch&&) noexcept;

  void Put(absl::string_view key, absl::string_view value);
  void Delete(absl::string_view key);
  // NOT_FOUND-free: nullopt when absent. UNAVAILABLE/INTERNAL on I/O errors.
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const;
  // Number of Put/Delete operations so far.
  size_t Count() const;

 private:
  friend class KvStore;
  struct Impl;
  explicit KvBatch(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct KvOptions {
  // Create the store if it is missing.
  bool create_if_missing = true;
  // Open for reading only (crmctl verify): nothing in the directory is changed.
  bool read_only = false;
};

class KvStore {
 public:
  // Opens (creating if allowed) the store in directory `path`.
  // Errors: INVALID_ARGUMENT for a bad path, UNAVAILABLE if locked by another process,
  // DATA_LOSS if corrupted.
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const std::string& path,
                                                       const KvOptions& options = {});
  // Deletes the store's files in `path`; OK if there is no store there. The store must not be
  // open.
  static absl::Status Destroy(const std::string& path);

  ~KvStore();

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const;

  // A new empty batch bound to this store (its Get reads this store).
  KvBatch NewBatch() const;
  // Applies `batch` atomically. With sync, returns only after the write is on stable storage
  // (concurrent sync writers share one fsync: RocksDB group commit).
  absl::Status Write(KvBatch& batch, bool sync = false);

  // Visits keys in [start, end) in order (end empty = no upper bound), at most `limit` entries
  // (0 = no limit). `fn` returns false to stop. Reads a consistent snapshot.
  absl::Status Scan(
      absl::string_view start, absl::string_view end, size_t limit,
      const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const;
  // Visits every key starting with `prefix`, from `start_after` exclusive if non-empty.
  absl::Status ScanPrefix(
      absl::string_view prefix, absl::string_view start_after, size_t limit,
      const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const;

  // Deletes every key starting with `prefix`, except those starting with `except` (none if
  // empty), in one atomic write of range deletions: its cost does not grow with the number of
  // keys (clearing a view of millions of keys for a refold). Keys written under `prefix` after
  // the call returns are kept.
  absl::Status DeletePrefix(absl::string_view prefix, absl::string_view except = "");

  // Writes a consistent copy of the whole store, as of one instant, into directory `dir`, which
  // must not exist (its parent must). Table files are hard-linked when `dir` is on the same file
  // system, copied otherwise; the memtable is flushed first, so the copy needs no write-ahead
  // log. The copy is a store of its own: Open(dir) opens it. Writes go on meanwhile.
  // Errors: ALREADY_EXISTS if `dir` exists, UNAVAILABLE/INTERNAL on I/O errors.
  absl::Status Checkpoint(const std::string& dir) const;

  struct Impl;

 private:
  explicit KvStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crm::kv
