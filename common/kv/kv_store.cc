#include "common/kv/kv_store.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "spdlog/spdlog.h"

namespace crm::kv {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// Picks the code by what the caller should do next: retry (UNAVAILABLE), give
// up on the data (DATA_LOSS), fix the request (INVALID_ARGUMENT), ...
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat("kv ", what, ": ", s.ToString());
  switch (s.code()) {
    case rocksdb::Status::kOk:
      return absl::OkStatus();
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kNotSupported:
      return absl::UnimplementedError(message);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    case rocksdb::Status::kIOError:
      if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
      // Includes "lock held by another process" and transient I/O trouble.
      return absl::UnavailableError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kShutdownInProgress:
    case rocksdb::Status::kMergeInProgress:
      return absl::UnavailableError(message);
    case rocksdb::Status::kTimedOut:
      return absl::DeadlineExceededError(message);
    case rocksdb::Status::kAborted:
      if (s.IsLockLimit()) return absl::ResourceExhaustedError(message);
      return absl::AbortedError(message);
    case rocksdb::Status::kExpired:
      return absl::AbortedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

// RocksDB's own log goes to the process's log, not to a LOG file beside the data: a full data
// disk must not also fail (and, in Debian's build, assert on) the writes of that file.
class RocksLogger final : public rocksdb::Logger {
 public:
  explicit RocksLogger(std::string path)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), path_(std::move(path)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buffer[1024];
    vsnprintf(buffer, sizeof(buffer), format, ap);
    // The process's logger may be gone already (a store closed after the log shut down).
    std::shared_ptr<spdlog::logger> logger = spdlog::default_logger();
    if (logger == nullptr) return;
    logger->log(
        level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? spdlog::level::err : spdlog::level::warn,
        "rocksdb {}: {}", path_, buffer);
  }

 private:
  const std::string path_;
};

// A store whose files fail their checks: the open fails, saying what to do.
absl::Status Damaged(const rocksdb::Status& s, const std::string& path) {
  return FromRocks(s, absl::StrCat("open ", path,
                                   " (its files are damaged; nothing after the damage is served. "
                                   "Restore the directory from a backup; views and command state "
                                   "can instead be refolded from the log with --rebuild)"));
}

struct KvStore::Impl {
  // Applies `batch`; after an I/O error, first tries to resume writes.
  absl::Status Write(rocksdb::WriteBatch* batch, bool sync);

  std::unique_ptr<rocksdb::DB> db;
  // Set after a write failed for want of space: the store refuses writes until Resume().
  std::atomic<bool> write_failed{false};
  bool read_only = false;
  ~Impl() {
    // A clean close leaves everything in table files (checked on the next open) and nothing to
    // replay from the write-ahead log.
    if (db != nullptr && !read_only) db->Flush(rocksdb::FlushOptions());
  }
};

struct KvBatch::Impl {
  explicit Impl(rocksdb::DB* db) : db(db) {}
  rocksdb::DB* db;
  // The pending writes, one per key (a later Put/Delete of a key replaces the earlier one;
  // nullopt: a delete), in key order. A fold's batch writes some keys many times (counters,
  // positions, a customer changed by several events): the store gets only the last value, and
  // gets the keys sorted, so its memtable inserts each start near the previous one (issue 12's
  // profile: memtable inserts were the largest share of a fold's time).
  absl::btree_map<std::string, std::optional<std::string>, std::less<>> pending;
  size_t count = 0;
};

KvBatch::KvBatch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvBatch::~KvBatch() = default;
KvBatch::KvBatch(KvBatch&&) noexcept = default;
KvBatch& KvBatch::operator=(KvBatch&&) noexcept = default;

void KvBatch::Put(absl::string_view key, absl::string_view value) {
  if (auto it = impl_->pending.find(key); it != impl_->pending.end()) {
    it->second.emplace(value);
  } else {
    impl_->pending.emplace(std::string(key), std::string(value));
  }
  ++impl_->count;
}

void KvBatch::Delete(absl::string_view key) {
  if (auto it = impl_->pending.find(key); it != impl_->pending.end()) {
    it->second.reset();
  } else {
    impl_->pending.emplace(std::string(key), std::nullopt);
  }
  ++impl_->count;
}

absl::StatusOr<std::optional<std::string>> KvBatch::Get(absl::string_view key) const {
  if (auto it = impl_->pending.find(key); it != impl_->pending.end()) return it->second;
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "batch get");
  return std::optional<std::string>(std::move(value));
}

size_t KvBatch::Count() const { return impl_->count; }

KvStore::KvStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvStore::~KvStore() = default;

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const std::string& path,
                                                       const KvOptions& options) {
  if (path.empty()) return absl::InvalidArgumentError("kv open: empty path");
  if (options.create_if_missing && !options.read_only) {
    // RocksDB creates only the last path component.
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("kv open ", path, ": ", ec.message()));
    }
  }
  rocksdb::Options rocks_options;
  rocks_options.create_if_missing = options.create_if_missing;
  // The machine is shared; keep background work modest.
  rocks_options.max_background_jobs = 2;
  // Damage is an error, never a silent cut: RocksDB's default WAL recovery (point in time) stops
  // at the first bad record and opens with everything after it gone. Only an incomplete last
  // record (a write that was never acknowledged, cut by a crash) is tolerated; a damaged record
  // anywhere else fails the open with a Corruption error naming the file.
  rocks_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  rocks_options.paranoid_checks = true;
  rocks_options.info_log = std::make_shared<RocksLogger>(path);
  // Most point reads of a command or a fold ask for keys that are not there (a new customer, a
  // request id not seen before, a counter not yet written): a Bloom filter in the memtable and in
  // every table file answers those without walking the skip list or reading blocks (issue 12's
  // profile: memtable lookups were 16% of crm-server's CPU under RegisterCustomer).
  rocks_options.memtable_whole_key_filtering = true;
  rocks_options.memtable_prefix_bloom_size_ratio = 0.02;
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table_options.whole_key_filtering = true;
  rocks_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = options.read_only ? rocksdb::DB::OpenForReadOnly(rocks_options, path, &raw)
                                        : rocksdb::DB::Open(rocks_options, path, &raw);
  if (s.IsCorruption()) return Damaged(s, path);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open ", path));
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  impl->read_only = options.read_only;
  // Every table file's checksums, now, so a damaged file stops the process at start (naming the
  // file) instead of failing some read later. Reads the whole store once.
  s = impl->db->VerifyChecksum();
  if (!s.ok()) {
    rocksdb::Status closed = impl->db->Close();
    (void)closed;
    impl->db.reset();
    return Damaged(s, path);
  }
  return std::unique_ptr<KvStore>(new KvStore(std::move(impl)));
}

absl::Status KvStore::Destroy(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("kv destroy: empty path");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::OkStatus();  // nothing to destroy
  return FromRocks(rocksdb::DestroyDB(path, rocksdb::Options()), absl::StrCat("destroy ", path));
}

absl::Status KvStore::Checkpoint(const std::string& dir) const {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("checkpoint: ", dir, " already exists"));
  }
  rocksdb::Checkpoint* raw = nullptr;
  if (rocksdb::Status s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw); !s.ok()) {
    return FromRocks(s, absl::StrCat("checkpoint ", dir));
  }
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: always flush, so the copy is table files only.
  return FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                   absl::StrCat("checkpoint ", dir));
}

absl::StatusOr<std::optional<std::string>> KvStore::Get(absl::string_view key) const {
  std::string value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "get");
  return std::optional<std::string>(std::move(value));
}

KvBatch KvStore::NewBatch() const {
  return KvBatch(std::make_unique<KvBatch::Impl>(impl_->db.get()));
}

absl::Status KvStore::Impl::Write(rocksdb::WriteBatch* batch, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  if (write_failed.load()) {
    // After an I/O error (a full disk) RocksDB stops taking writes until resumed; try each time
    // a write comes, so writes resume by themselves once there is space again.
    rocksdb::Status resumed = db->Resume();
    if (!resumed.ok()) {
      return FromRocks(resumed,
                       "write refused: the store stopped taking writes after an I/O error (a full "
                       "disk?) and has not recovered yet; it resumes by itself once it can");
    }
    write_failed.store(false);
    spdlog::info("kv store writes again after an I/O error");
  }
  rocksdb::Status s = db->Write(write_options, batch);
  if (s.IsIOError()) write_failed.store(true);
  return FromRocks(s, "write");
}

absl::Status KvStore::Write(KvBatch& batch, bool sync) {
  if (batch.impl_->db != impl_->db.get()) {
    return absl::InvalidArgumentError("kv write: batch belongs to another store");
  }
  rocksdb::WriteBatch rocks_batch;
  for (const auto& [key, value] : batch.impl_->pending) {
    rocksdb::Status added = value.has_value() ? rocks_batch.Put(ToSlice(key), ToSlice(*value))
                                              : rocks_batch.Delete(ToSlice(key));
    if (!added.ok()) return FromRocks(added, "write");
  }
  return impl_->Write(&rocks_batch, sync);
}

absl::Status KvStore::Scan(
    absl::string_view start, absl::string_view end, size_t limit,
    const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const {
  rocksdb::ReadOptions read_options;  // An iterator reads an implicit consistent snapshot.
  rocksdb::Slice upper = ToSlice(end);
  if (!end.empty()) read_options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options));
  size_t visited = 0;
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    if (limit != 0 && visited >= limit) break;
    ++visited;
    if (!fn(ToView(it->key()), ToView(it->value()))) break;
  }
  return FromRocks(it->status(), "scan");
}

namespace {

// The smallest key greater than every key with `prefix`: drop trailing 0xff bytes, then bump
// the last one. An all-0xff (or empty) prefix has no upper bound: "".
std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace

absl::Status KvStore::DeletePrefix(absl::string_view prefix, absl::string_view except) {
  // [begin, end) ranges; an empty end: up to the last key.
  std::vector<std::pair<std::string, std::string>> ranges;
  const std::string end = PrefixEnd(prefix);
  if (!except.empty() && absl::StartsWith(except, prefix)) {
    ranges.emplace_back(std::string(prefix), std::string(except));
    const std::string except_end = PrefixEnd(except);
    if (!except_end.empty()) ranges.emplace_back(except_end, end);
  } else {
    ranges.emplace_back(std::string(prefix), end);
  }
  rocksdb::WriteBatch batch;
  for (auto& [begin, range_end] : ranges) {
    if (range_end.empty()) {
      // No upper bound: up to and including the store's last key.
      std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
      it->SeekToLast();
      if (!it->status().ok()) return FromRocks(it->status(), "delete prefix");
      if (!it->Valid() || it->key().ToString() < begin) continue;
      range_end = it->key().ToString();
      if (rocksdb::Status s = batch.Delete(ToSlice(range_end)); !s.ok()) {
        return FromRocks(s, "delete prefix");
      }
    }
    if (begin >= range_end) continue;
    if (rocksdb::Status s = batch.DeleteRange(ToSlice(begin), ToSlice(range_end)); !s.ok()) {
      return FromRocks(s, "delete prefix");
    }
  }
  return impl_->Write(&batch, /*sync=*/false);
}

absl::Status KvStore::ScanPrefix(
    absl::string_view prefix, absl::string_view start_after, size_t limit,
    const std::function<bool(absl::string_view key, absl::string_view value)>& fn) const {
  std::string start(prefix);
  if (!start_after.empty() && start_after >= prefix) {
    start = absl::StrCat(start_after, absl::string_view("\0", 1));  // Smallest key after it.
  }
  return Scan(start, PrefixEnd(prefix), limit, fn);
}

}  // namespace crm::kv
