#include "common/eventlog/embedded_event_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/coding.h"
#include "common/base/status_macros.h"
#include "common/eventlog/write_metrics.h"

namespace crm::eventlog {
namespace {

using base::GetBytes;
using base::GetFixed32;
using base::PutBytes;
using base::PutFixed32;

// Store layout:
//   "r" + 8-byte big-endian offset -> encoded record (so iteration is in offset
//   order) "m/end"                        -> 8-byte big-endian next offset,
//   written in the same batch
//                                     as the records, so that Open finds the
//                                     end without a scan.
constexpr absl::string_view kRecordPrefix = "r";
constexpr absl::string_view kEndKey = "m/end";
// A leader stops adding appends to its group past this many value bytes
// (leveldb caps its groups similarly), so one slow group does not grow without
// bound.
constexpr size_t kMaxGroupBytes = 4 << 20;
constexpr uint8_t kRecordFormatVersion = 1;

std::string BigEndian64(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v = static_cast<int64_t>(static_cast<uint64_t>(v) >> 8)) {
    out[i] = static_cast<char>(v & 0xff);
  }
  return out;
}

int64_t LoadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int64_t>(v);
}

// The keys of a log whose keys start with `prefix` ("" for the first log of a store, "l/<name>/"
// for a log beside it).
std::string RecordKey(absl::string_view prefix, int64_t offset) {
  return absl::StrCat(prefix, kRecordPrefix, BigEndian64(offset));
}
std::string EndKey(absl::string_view prefix) { return absl::StrCat(prefix, kEndKey); }

// version:u8 | key | value | header_count:u32 | (name | value)*, each byte
// string prefixed by its u32 little-endian length. The position is not stored:
// it is the key.
std::string EncodeRecord(absl::string_view key, const AppendValue& v) {
  std::string out;
  out.reserve(1 + 12 + key.size() + v.value.size());
  out.push_back(static_cast<char>(kRecordFormatVersion));
  PutBytes(out, key);
  PutBytes(out, v.value);
  PutFixed32(out, static_cast<uint32_t>(v.headers.size()));
  for (const auto& [name, value] : v.headers) {
    PutBytes(out, name);
    PutBytes(out, value);
  }
  return out;
}

absl::Status DecodeRecord(absl::string_view in, LogRecord& record) {
  auto corrupt = [&record](absl::string_view why) {
    return absl::DataLossError(
        absl::StrCat("event log: record at offset ", record.position.offset, ": ", why));
  };
  if (in.empty() || static_cast<uint8_t>(in[0]) != kRecordFormatVersion) {
    return corrupt("unknown format version");
  }
  in.remove_prefix(1);
  uint32_t header_count;
  if (!GetBytes(in, record.key) || !GetBytes(in, record.value) || !GetFixed32(in, header_count)) {
    return corrupt("truncated");
  }
  if (header_count > in.size() / 8) return corrupt("bad header count");
  record.headers.resize(header_count);
  for (auto& [name, value] : record.headers) {
    if (!GetBytes(in, name) || !GetBytes(in, value)) return corrupt("truncated header");
  }
  if (!in.empty()) return corrupt("trailing bytes");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LoadEnd(const kv::KvStore& store, absl::string_view prefix) {
  CRM_ASSIGN_OR_RETURN(std::optional<std::string> end, store.Get(EndKey(prefix)));
  if (!end.has_value()) return 0;
  if (end->size() != 8) return absl::DataLossError("event log: malformed end offset");
  return LoadBigEndian64(end->data());
}

}  // namespace

// One Append waiting in writers_. Lives on the appending thread's stack.
struct EmbeddedEventLog::Writer {
  absl::string_view key;
  const std::vector<AppendValue>* values;
  size_t bytes = 0;
  // Taken into a leader's write group; from then on the writer must wait for
  // the outcome.
  bool claimed = false;
  bool done = false;
  absl::StatusOr<LogPosition> result;
  absl::CondVar cv;
};

class EmbeddedEventLog::Reader final : public LogReader {
 public:
  Reader(EmbeddedEventLog* log, std::optional<int64_t> cursor) : log_(log), cursor_(cursor) {}

  absl::StatusOr<std::vector<LogRecord>> Poll(size_t max_records, absl::Time deadline) override {
    int64_t to;
    {
      absl::MutexLock lock(&log_->mu_);
      while (!closed_ && (!cursor_.has_value() || log_->end_ <= *cursor_)) {
        if (log_->committed_cv_.WaitWithDeadline(&log_->mu_, deadline)) break;  // Timed out.
      }
      if (closed_) return absl::CancelledError("event log reader closed");
      if (!cursor_.has_value() || log_->end_ <= *cursor_ || max_records == 0) {
        return std::vector<LogRecord>();
      }
      const uint64_t available = static_cast<uint64_t>(log_->end_ - *cursor_);
      to = *cursor_ + static_cast<int64_t>(std::min<uint64_t>(available, max_records));
    }
    // Records below end_ are committed and immutable: read them without the
    // lock.
    CRM_ASSIGN_OR_RETURN(std::vector<LogRecord> records, log_->ReadRange(*cursor_, to));
    cursor_ = to;
    return records;
  }

  void Close() override {
    absl::MutexLock lock(&log_->mu_);
    closed_ = true;
    log_->committed_cv_.SignalAll();
  }

 private:
  EmbeddedEventLog* const log_;
  std::optional<int64_t> cursor_;  // Next offset to read; nullopt: partition 0 not read.
  bool closed_ ABSL_GUARDED_BY(log_->mu_) = false;
};

absl::StatusOr<std::unique_ptr<EmbeddedEventLog>> EmbeddedEventLog::Open(const std::string& dir,
                                                                         bool count_writes) {
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<kv::KvStore> store, kv::KvStore::Open(dir));
  CRM_ASSIGN_OR_RETURN(int64_t end, LoadEnd(*store, ""));
  return std::unique_ptr<EmbeddedEventLog>(
      new EmbeddedEventLog(std::move(store), "", end, count_writes));
}

absl::StatusOr<std::unique_ptr<EmbeddedEventLog>> EmbeddedEventLog::OpenBeside(
    const EmbeddedEventLog& log, absl::string_view name, bool count_writes) {
  if (name.empty() || name.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError("event log: a log beside another needs a name without /");
  }
  std::string prefix = absl::StrCat("l/", name, "/");
  CRM_ASSIGN_OR_RETURN(int64_t end, LoadEnd(*log.store_, prefix));
  return std::unique_ptr<EmbeddedEventLog>(
      new EmbeddedEventLog(log.store_, std::move(prefix), end, count_writes));
}

EmbeddedEventLog::EmbeddedEventLog(std::shared_ptr<kv::KvStore> store, std::string prefix,
                                   int64_t end, bool count_writes)
    : store_(std::move(store)),
      prefix_(std::move(prefix)),
      count_writes_(count_writes),
      end_(end) {}

EmbeddedEventLog::~EmbeddedEventLog() = default;

int64_t EmbeddedEventLog::sync_count() const {
  absl::MutexLock lock(&mu_);
  return sync_count_;
}

absl::StatusOr<LogPosition> EmbeddedEventLog::Append(absl::string_view key,
                                                     std::vector<AppendValue> values,
                                                     absl::Time deadline) {
  if (values.empty()) return absl::InvalidArgumentError("event log append: no values");
  Writer w;
  w.key = key;
  w.values = &values;
  for (const AppendValue& v : values) {
    if (v.value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat("event log append: value of ", v.value.size(),
                                                     " bytes exceeds ", kMaxValueBytes));
    }
    w.bytes += key.size() + v.value.size();
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError("event log append: deadline passed");
  }

  absl::MutexLock lock(&mu_);
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) {
    const bool timed_out = w.cv.WaitWithDeadline(&mu_, deadline);
    if (timed_out && !w.claimed && !w.done && &w != writers_.front()) {
      // Not yet taken by a leader (nor leading): withdraw, nothing was
      // appended.
      writers_.erase(std::find(writers_.begin(), writers_.end(), &w));
      return absl::DeadlineExceededError("event log append: deadline passed while queued");
    }
  }
  if (w.done) return std::move(w.result);

  // This writer leads: take the queued appends into one group, in queue order.
  if (!broken_.ok()) {
    writers_.pop_front();
    if (!writers_.empty()) writers_.front()->cv.Signal();
    return broken_;
  }
  kv::KvBatch batch = store_->NewBatch();
  int64_t offset = end_;
  size_t group_bytes = 0;
  size_t group_size = 0;
  for (Writer* writer : writers_) {
    if (group_size > 0 && group_bytes + writer->bytes > kMaxGroupBytes) break;
    writer->claimed = true;
    group_bytes += writer->bytes;
    ++group_size;
    for (const AppendValue& v : *writer->values) {
      batch.Put(RecordKey(prefix_, offset), EncodeRecord(writer->key, v));
      ++offset;
    }
    writer->result = LogPosition{0, offset - 1};
  }
  batch.Put(EndKey(prefix_), BigEndian64(offset));

  absl::Status status;
  {
    // Followers keep queueing behind the leader while it writes.
    const size_t records = static_cast<size_t>(offset - end_);
    mu_.Unlock();
    const absl::Time write_start = absl::Now();
    status = store_->Write(batch, /*sync=*/true);
    static const WriteMetrics* write_metrics = new WriteMetrics("embedded");
    if (count_writes_) {
      write_metrics->Observe(absl::Now() - write_start, group_size, records, status.ok());
    }
    mu_.Lock();
  }

  if (status.ok()) {
    end_ = offset;
    ++sync_count_;
    committed_cv_.SignalAll();
  } else {
    // The write may or may not have reached the store. Settle it from the
    // stored end offset so that offsets stay dense and stable; if even that
    // fails, stop accepting appends.
    absl::StatusOr<int64_t> stored_end = LoadEnd(*store_, prefix_);
    if (stored_end.ok() && (*stored_end == end_ || *stored_end == offset)) {
      if (*stored_end == offset) {
        end_ = offset;
        committed_cv_.SignalAll();
      }
    } else {
      broken_ = absl::UnavailableError(
          absl::StrCat("event log: unrecoverable write failure: ", status.message()));
    }
    status = absl::UnavailableError(absl::StrCat("event log append: ", status.message()));
  }

  for (size_t i = 0; i < group_size; ++i) {
    Writer* writer = writers_.front();
    writers_.pop_front();
    if (!status.ok()) writer->result = status;
    writer->done = true;
    if (writer != &w) writer->cv.Signal();
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();  // The next leader.
  return std::move(w.result);
}

absl::StatusOr<std::unique_ptr<LogReader>> EmbeddedEventLog::NewReader(
    const std::map<int32_t, int64_t>& start) {
  std::optional<int64_t> cursor;
  for (const auto& [partition, offset] : start) {
    if (partition != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("event log reader: no partition ", partition, " (only 0)"));
    }
    if (offset < 0) {
      return absl::InvalidArgumentError(absl::StrCat("event log reader: negative offset ", offset));
    }
    cursor = offset;
  }
  return std::unique_ptr<LogReader>(new Reader(this, cursor));
}

absl::StatusOr<int64_t> EmbeddedEventLog::EndOffset(int32_t partition) {
  if (partition != 0) {
    return absl::InvalidArgumentError(absl::StrCat("event log: no partition ", partition));
  }
  absl::MutexLock lock(&mu_);
  return end_;
}

absl::StatusOr<std::vector<LogRecord>> EmbeddedEventLog::ReadRange(int64_t from, int64_t to) const {
  std::vector<LogRecord> records;
  records.reserve(static_cast<size_t>(to - from));
  absl::Status decode_status;
  int64_t expected = from;
  CRM_RETURN_IF_ERROR(store_->Scan(
      RecordKey(prefix_, from), RecordKey(prefix_, to), 0,
      [&](absl::string_view key, absl::string_view value) {
        LogRecord record;
        const size_t size = prefix_.size() + 9;
        if (key.size() == size) {
          record.position = {0, LoadBigEndian64(key.data() + prefix_.size() + 1)};
        }
        if (key.size() != size || record.position.offset != expected) {
          decode_status =
              absl::DataLossError(absl::StrCat("event log: missing record at offset ", expected));
          return false;
        }
        decode_status = DecodeRecord(value, record);
        if (!decode_status.ok()) return false;
        records.push_back(std::move(record));
        ++expected;
        return true;
      }));
  CRM_RETURN_IF_ERROR(decode_status);
  if (expected != to) {
    return absl::DataLossError(absl::StrCat("event log: missing record at offset ", expected));
  }
  return records;
}

}  // namespace crm::eventlog
