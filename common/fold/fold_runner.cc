#include "common/fold/fold_runner.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/base/coding.h"
#include "common/base/status_macros.h"
#include "common/log/log.h"
#include "spdlog/spdlog.h"

namespace crm::fold {
namespace {

using base::GetBytes;
using base::GetFixed32;
using base::PutBytes;
using base::PutFixed32;

// Short enough that Stop is responsive even with a log whose reader ignores
// Close.
constexpr absl::Duration kPollInterval = absl::Milliseconds(200);
// While a fold refolds, the runner alternates between the two passes and must
// not sit in one poll while the other has work.
constexpr absl::Duration kRefoldPollInterval = absl::Milliseconds(10);
constexpr absl::Duration kProgressLogInterval = absl::Seconds(10);
constexpr absl::Duration kMinBackoff = absl::Milliseconds(10);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);
// CatchUp runs before the process serves; a persistent error there fails
// start-up instead of hanging it.
constexpr int kCatchUpAttempts = 8;

std::string FoldKey(absl::string_view fold, absl::string_view rest) {
  return absl::StrCat(FoldRunner::kReservedPrefix, fold, "/", rest);
}
std::string MetaKey(absl::string_view fold) { return FoldKey(fold, "meta"); }
std::string PositionPrefix(absl::string_view fold) { return FoldKey(fold, "pos/"); }
std::string PositionKey(absl::string_view fold, int32_t partition) {
  return absl::StrCat(PositionPrefix(fold), partition);
}
// The shared position of the layout before folds had their own.
std::string LegacyPositionPrefix() { return absl::StrCat(FoldRunner::kReservedPrefix, "pos/"); }

// Zero-padded so that dead letters list in (partition, offset) order.
std::string DeadLetterSuffix(const eventlog::LogPosition& position) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%010d/%020" PRId64, position.partition, position.offset);
  return buf;
}
std::string DeadLetterPrefix(absl::string_view fold) { return FoldKey(fold, "dead/"); }
std::string DeadLetterKey(absl::string_view fold, const eventlog::LogPosition& position) {
  return absl::StrCat(DeadLetterPrefix(fold), DeadLetterSuffix(position));
}
std::string DeadRecordKey(absl::string_view fold, const eventlog::LogPosition& position) {
  return FoldKey(fold, absl::StrCat("dead-record/", DeadLetterSuffix(position)));
}
// The position in the key of a dead letter (the part after DeadLetterPrefix).
std::optional<eventlog::LogPosition> ParseDeadLetterSuffix(absl::string_view suffix) {
  const size_t slash = suffix.find('/');
  eventlog::LogPosition position;
  if (slash == absl::string_view::npos ||
      !absl::SimpleAtoi(suffix.substr(0, slash), &position.partition) ||
      !absl::SimpleAtoi(suffix.substr(slash + 1), &position.offset)) {
    return std::nullopt;
  }
  return position;
}

// The error message, a NUL byte, then the raw record value.
std::string DeadLetterValue(const absl::Status& error, const eventlog::LogRecord& record) {
  return absl::StrCat(error.message(), absl::string_view("\0", 1), record.value);
}

// The dead record's key and headers: format byte 1, the key, the header count, each header's
// name and value; byte strings and the count as u32 little-endian lengths.
constexpr char kDeadRecordFormat = 1;

std::string DeadRecordValue(const eventlog::LogRecord& record) {
  std::string out(1, kDeadRecordFormat);
  PutBytes(out, record.key);
  PutFixed32(out, static_cast<uint32_t>(record.headers.size()));
  for (const auto& [name, value] : record.headers) {
    PutBytes(out, name);
    PutBytes(out, value);
  }
  return out;
}

bool ParseDeadRecordValue(absl::string_view in, eventlog::LogRecord& record) {
  if (in.empty() || in[0] != kDeadRecordFormat) return false;
  in.remove_prefix(1);
  uint32_t count;
  if (!GetBytes(in, record.key) || !GetFixed32(in, count) || count > in.size() / 8) return false;
  record.headers.resize(count);
  for (auto& [name, value] : record.headers) {
    if (!GetBytes(in, name) || !GetBytes(in, value)) return false;
  }
  return in.empty();
}

struct Meta {
  int64_t version = 0;
  bool refolding = false;
};

std::string FormatMeta(const Meta& meta) {
  return absl::StrCat("version=", meta.version, meta.refolding ? " refolding" : "");
}

std::optional<Meta> ParseMeta(absl::string_view text) {
  Meta meta;
  bool has_version = false;
  for (absl::string_view part : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (part == "refolding") {
      meta.refolding = true;
    } else if (absl::ConsumePrefix(&part, "version=") && absl::SimpleAtoi(part, &meta.version)) {
      has_version = true;
    } else {
      return std::nullopt;
    }
  }
  if (!has_version) return std::nullopt;
  return meta;
}

std::string FormatPositions(const eventlog::PositionMap& positions) {
  return absl::StrJoin(positions, ",", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, "p", entry.first, ":", entry.second);
  });
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name == "pos" || name == "dead") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool HasEmpty(const std::vector<std::string>& prefixes) {
  return std::find(prefixes.begin(), prefixes.end(), "") != prefixes.end();
}

}  // namespace

FoldRunner::FoldRunner(eventlog::EventLog* log, kv::KvStore* store, std::vector<Fold*> folds,
                       Options options)
    : log_(log), store_(store), options_(std::move(options)) {
  for (Fold* fold : folds) {
    auto entry = std::make_unique<Entry>();
    entry->fold = fold;
    entries_.push_back(std::move(entry));
  }
  refold_.serving = false;
}

FoldRunner::~FoldRunner() { Stop(); }

absl::Status FoldRunner::ClearFold(Entry& entry) {
  const std::string name = entry.fold->name();
  // Range deletions: clearing a view of millions of keys costs no more than a small one (the
  // keys under kReservedPrefix, the runner's own, stay).
  for (const std::string& prefix : entry.fold->prefixes()) {
    CRM_RETURN_IF_ERROR(store_->DeletePrefix(prefix, kReservedPrefix));
  }
  // Last, in one write: the fold's own entries go and its new version is recorded. A crash
  // before this leaves the old version in place, so the next start clears again.
  kv::KvBatch batch = store_->NewBatch();
  CRM_RETURN_IF_ERROR(
      store_->ScanPrefix(FoldKey(name, ""), "", 0, [&](absl::string_view key, absl::string_view) {
        batch.Delete(key);
        return true;
      }));
  batch.Put(MetaKey(name), FormatMeta({.version = entry.fold->version(), .refolding = true}));
  CRM_RETURN_IF_ERROR(store_->Write(batch));
  entry.stored_dead_letters = 0;
  absl::MutexLock lock(&mu_);
  for (auto& [partition, offset] : entry.applied) offset = -1;
  entry.refolding = true;
  return absl::OkStatus();
}

absl::Status FoldRunner::Load() {
  // The folds must be told apart, in keys and in prefixes.
  std::set<std::string> names;
  std::vector<std::pair<std::string, std::string>> prefixes;  // (prefix, fold)
  for (const auto& entry : entries_) {
    const std::string name = entry->fold->name();
    if (!ValidName(name) || !names.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("fold runner ", options_.name, ": fold name '", name,
                       "' is not valid or not unique (lower-case letters, digits, '-')"));
    }
    for (const std::string& prefix : entry->fold->prefixes()) {
      for (const auto& [other, other_fold] : prefixes) {
        if (absl::StartsWith(prefix, other) || absl::StartsWith(other, prefix)) {
          return absl::InvalidArgumentError(
              absl::StrCat("fold runner ", options_.name, ": folds ", other_fold, " and ", name,
                           " own overlapping key prefixes '", other, "' and '", prefix, "'"));
        }
      }
      prefixes.emplace_back(prefix, name);
    }
    if (entries_.size() > 1 && HasEmpty(entry->fold->prefixes())) {
      return absl::InvalidArgumentError(absl::StrCat("fold runner ", options_.name, ": fold ", name,
                                                     " owns every key but is not alone"));
    }
  }

  const int32_t partitions = log_->PartitionCount();
  auto parse_positions = [&](absl::string_view prefix, eventlog::PositionMap& out) {
    absl::Status parse_status;
    CRM_RETURN_IF_ERROR(
        store_->ScanPrefix(prefix, "", 0, [&](absl::string_view key, absl::string_view value) {
          int32_t partition;
          int64_t offset;
          key.remove_prefix(prefix.size());
          if (!absl::SimpleAtoi(key, &partition) || !absl::SimpleAtoi(value, &offset)) {
            parse_status = absl::DataLossError(absl::StrCat(
                "fold runner ", options_.name, ": malformed position entry '", prefix, key, "'"));
            return false;
          }
          out[partition] = offset;
          return true;
        }));
    return parse_status;
  };

  std::vector<std::optional<Meta>> metas;
  for (const auto& entry : entries_) {
    CRM_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                         store_->Get(MetaKey(entry->fold->name())));
    if (!stored.has_value()) {
      metas.push_back(std::nullopt);
      continue;
    }
    std::optional<Meta> meta = ParseMeta(*stored);
    if (!meta.has_value()) {
      return absl::DataLossError(
          absl::StrCat("fold ", entry->fold->name(), ": malformed version entry '", *stored, "'"));
    }
    metas.push_back(meta);
  }

  // The old layout: one position shared by every fold, at the folds' first versions.
  eventlog::PositionMap legacy;
  CRM_RETURN_IF_ERROR(parse_positions(LegacyPositionPrefix(), legacy));
  if (!legacy.empty()) {
    kv::KvBatch batch = store_->NewBatch();
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Fold& fold = *entries_[i]->fold;
      if (metas[i].has_value() || fold.version() != 1) continue;
      metas[i] = Meta{.version = 1};
      batch.Put(MetaKey(fold.name()), FormatMeta(*metas[i]));
      for (const auto& [partition, offset] : legacy) {
        batch.Put(PositionKey(fold.name(), partition), absl::StrCat(offset));
      }
    }
    for (const auto& [partition, offset] : legacy) {
      batch.Delete(absl::StrCat(LegacyPositionPrefix(), partition));
    }
    CRM_RETURN_IF_ERROR(store_->Write(batch));
    spdlog::info("fold runner {}: moved the shared position {} to each fold at version 1",
                 options_.name, FormatPositions(legacy));
  }

  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& entry = *entries_[i];
    eventlog::PositionMap applied;
    for (int32_t p = 0; p < partitions; ++p) applied[p] = -1;
    const bool current = metas[i].has_value() && metas[i]->version == entry.fold->version();
    if (current) CRM_RETURN_IF_ERROR(parse_positions(PositionPrefix(entry.fold->name()), applied));
    {
      absl::MutexLock lock(&mu_);
      entry.applied = std::move(applied);
      entry.refolding = current && metas[i]->refolding;
      entry.rebuild = Entry::RebuildState::kNone;
      entry.clear_running = false;
    }
    int64_t stored_dead = 0;
    if (current) {
      CRM_RETURN_IF_ERROR(store_->ScanPrefix(DeadLetterPrefix(entry.fold->name()), "", 0,
                                             [&](absl::string_view, absl::string_view) {
                                               ++stored_dead;
                                               return true;
                                             }));
    }
    entry.stored_dead_letters = stored_dead;
    if (!current) {
      spdlog::info("fold {}: stored version {}, now {}: clearing it to refold from the start",
                   entry.fold->name(),
                   metas[i].has_value() ? absl::StrCat(metas[i]->version) : "none",
                   entry.fold->version());
      CRM_RETURN_IF_ERROR(ClearFold(entry));
    }
  }

  // With nothing serving, every fold folds in the serving pass (CatchUp does it before serving).
  if (!std::any_of(entries_.begin(), entries_.end(), [&](const auto& e) {
        absl::MutexLock lock(&mu_);
        return !e->refolding;
      })) {
    kv::KvBatch batch = store_->NewBatch();
    for (const auto& entry : entries_) {
      batch.Put(MetaKey(entry->fold->name()), FormatMeta({.version = entry->fold->version()}));
    }
    CRM_RETURN_IF_ERROR(store_->Write(batch));
    absl::MutexLock lock(&mu_);
    for (const auto& entry : entries_) entry->refolding = false;
  }
  {
    // The serving pass starts at the lowest position of its folds.
    absl::MutexLock lock(&mu_);
    applied_.clear();
    for (const auto& entry : entries_) {
      if (entry->refolding) continue;
      for (const auto& [partition, offset] : entry->applied) {
        auto [it, inserted] = applied_.emplace(partition, offset);
        if (!inserted) it->second = std::min(it->second, offset);
      }
    }
  }
  // A fold ahead of its log means the log lost events it had (a damaged or older log): that is
  // never the new normal. Refuse to serve, and say what to do.
  std::vector<std::pair<std::string, eventlog::PositionMap>> positions;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& entry : entries_) positions.emplace_back(entry->fold->name(), entry->applied);
  }
  std::map<int32_t, int64_t> ends;
  for (const auto& [name, applied] : positions) {
    for (const auto& [partition, offset] : applied) {
      if (offset < 0) continue;
      if (!ends.contains(partition)) {
        CRM_ASSIGN_OR_RETURN(ends[partition], log_->EndOffset(partition));
      }
      if (offset >= ends[partition]) {
        return absl::DataLossError(absl::StrCat(
            "fold ", name, " of ", options_.name, " has applied partition ", partition,
            " up to offset ", offset, " but the log ends at offset ", ends[partition] - 1,
            ": the log has lost events this store has seen. Restore the log (or its data "
            "directory) from a backup or a replica, or, if the log is right, drop this store "
            "with --rebuild"));
      }
    }
  }
  LogProgress("loaded");
  return absl::OkStatus();
}

absl::Status FoldRunner::OpenPass(Pass& pass) {
  eventlog::PositionMap lowest;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& entry : entries_) {
      if (!InPass(*entry, pass)) continue;
      for (const auto& [partition, offset] : entry->applied) {
        auto [it, inserted] = lowest.emplace(partition, offset);
        if (!inserted) it->second = std::min(it->second, offset);
      }
    }
  }
  std::map<int32_t, int64_t> start;
  for (const auto& [partition, offset] : lowest) start[partition] = offset + 1;
  CRM_ASSIGN_OR_RETURN(std::unique_ptr<eventlog::LogReader> reader, log_->NewReader(start));
  absl::MutexLock lock(&mu_);
  pass.reader = std::move(reader);
  pass.pending.clear();
  pass.position = lowest;
  if (pass.serving) applied_ = lowest;
  return absl::OkStatus();
}

absl::StatusOr<size_t> FoldRunner::ApplyOnce(Pass& pass, absl::Time deadline) {
  eventlog::LogReader& reader = *pass.reader;
  auto advance_passed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Offsets without records (transaction markers) that the reader moved past count as
    // applied, so that waiting for a partition's end terminates. They need not be stored: after
    // a restart the reader skips them again.
    eventlog::PositionMap& position = pass.serving ? applied_ : pass.position;
    for (const auto& [partition, offset] : reader.PassedOffsets()) {
      auto it = position.find(partition);
      if (it != position.end()) it->second = std::max(it->second, offset);
    }
  };
  // Records polled but not yet written (the previous attempt failed) are
  // retried first: the reader has moved past them.
  if (pass.pending.empty()) {
    CRM_ASSIGN_OR_RETURN(pass.pending, reader.Poll(options_.max_batch, deadline));
    if (pass.pending.empty()) {
      absl::MutexLock lock(&mu_);
      advance_passed();
      return 0;
    }
  }
  {
    absl::MutexLock apply(&apply_mu_);
    CRM_RETURN_IF_ERROR(ApplyRecords(pass, pass.pending));  // on error pending is retried
  }
  const size_t count = pass.pending.size();
  {
    absl::MutexLock lock(&mu_);
    advance_passed();
  }
  pass.pending.clear();
  if (pass.serving) NotifyWaiters();
  return count;
}

absl::Status FoldRunner::ApplyRecords(Pass& pass, const std::vector<eventlog::LogRecord>& records) {
  // The pass's folds, with their positions. Only the applying thread changes who is in a pass.
  std::vector<Entry*> members;
  std::vector<eventlog::PositionMap> applied;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& entry : entries_) {
      if (!InPass(*entry, pass)) continue;
      members.push_back(entry.get());
      applied.push_back(entry->applied);
    }
  }
  std::vector<eventlog::PositionMap> written(members.size());
  struct Dead {
    Entry* entry;
    const eventlog::LogRecord* record;
    std::string message;
  };
  std::vector<Dead> dead;
  kv::KvBatch batch = store_->NewBatch();
  for (const eventlog::LogRecord& record : records) {
    const eventlog::LogPosition& pos = record.position;
    for (size_t i = 0; i < members.size(); ++i) {
      auto it = applied[i].find(pos.partition);
      if (it != applied[i].end() && pos.offset <= it->second) continue;  // Already applied.
      Entry& member = *members[i];
      absl::Status status = member.fold->Apply(record, batch);
      if (absl::IsDataLoss(status)) {
        batch.Put(DeadLetterKey(member.fold->name(), pos), DeadLetterValue(status, record));
        batch.Put(DeadRecordKey(member.fold->name(), pos), DeadRecordValue(record));
        dead.push_back({&member, &record, std::string(status.message())});
      } else if (!status.ok()) {
        return status;  // The batch is discarded.
      }
      applied[i][pos.partition] = pos.offset;
      written[i][pos.partition] = pos.offset;
    }
  }
  bool any = false;
  for (size_t i = 0; i < members.size(); ++i) {
    for (const auto& [partition, offset] : written[i]) {
      batch.Put(PositionKey(members[i]->fold->name(), partition), absl::StrCat(offset));
      any = true;
    }
  }
  if (any) CRM_RETURN_IF_ERROR(store_->Write(batch));

  for (const Dead& d : dead) {
    spdlog::error("fold {}: dead letter: topic {} partition {} offset {}: {}",
                  d.entry->fold->name(),
                  d.record->topic.empty() ? "(embedded log)" : d.record->topic,
                  d.record->position.partition, d.record->position.offset, d.message);
    ++d.entry->dead_letters;
    ++d.entry->stored_dead_letters;
  }
  absl::MutexLock lock(&mu_);
  for (const Dead& d : dead) ++d.entry->dead_by_partition[d.record->position.partition];
  for (size_t i = 0; i < members.size(); ++i) {
    for (const auto& [partition, offset] : written[i]) {
      int64_t& last = members[i]->applied[partition];
      last = std::max(last, offset);
    }
  }
  eventlog::PositionMap& position = pass.serving ? applied_ : pass.position;
  for (const eventlog::LogRecord& record : records) {
    int64_t& last = position[record.position.partition];
    last = std::max(last, record.position.offset);
  }
  return absl::OkStatus();
}

bool FoldRunner::OfferCommitted(const std::vector<eventlog::LogRecord>& records,
                                const eventlog::PositionMap& after) {
  if (records.empty()) return false;
  absl::MutexLock apply(&apply_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || !running_) return false;
    // Every serving fold must have applied everything up to `after` in each partition: then
    // nothing committed lies between what it has and these records.
    bool any_serving = false;
    for (const auto& entry : entries_) {
      if (entry->refolding) continue;
      any_serving = true;
      for (const auto& [partition, offset] : after) {
        auto it = entry->applied.find(partition);
        if (it == entry->applied.end() || it->second < offset) return false;
      }
    }
    if (!any_serving) return false;
    for (const eventlog::LogRecord& record : records) {
      auto it = after.find(record.position.partition);
      if (it == after.end() || record.position.offset <= it->second) return false;
    }
  }
  if (absl::Status s = ApplyRecords(serving_, records); !s.ok()) {
    spdlog::warn("fold {}: committed records not applied early ({}); the reader applies them",
                 options_.name, s.ToString());
    return false;
  }
  NotifyWaiters();
  return true;
}

bool FoldRunner::InPass(const Entry& entry, const Pass& pass) {
  return pass.serving ? !entry.refolding
                      : entry.refolding && entry.rebuild == Entry::RebuildState::kNone;
}

bool FoldRunner::AnyRefolding() const {
  absl::MutexLock lock(&mu_);
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const auto& e) { return InPass(*e, refold_); });
}

absl::Status FoldRunner::JoinIfCaughtUp() {
  absl::MutexLock apply(&apply_mu_);
  std::vector<Entry*> joining;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [partition, offset] : applied_) {
      auto it = refold_.position.find(partition);
      if (it == refold_.position.end() || it->second < offset) return absl::OkStatus();
    }
    for (const auto& entry : entries_) {
      if (InPass(*entry, refold_)) joining.push_back(entry.get());
    }
  }
  if (joining.empty()) return absl::OkStatus();
  // The serving pass has applied nothing beyond what the refold pass has: from its next record
  // on, the joining folds take their share there (each skips what it already has).
  kv::KvBatch batch = store_->NewBatch();
  for (Entry* entry : joining) {
    batch.Put(MetaKey(entry->fold->name()), FormatMeta({.version = entry->fold->version()}));
  }
  CRM_RETURN_IF_ERROR(store_->Write(batch));
  {
    absl::MutexLock lock(&mu_);
    for (Entry* entry : joining) entry->refolding = false;
    refold_.reader.reset();
    refold_.pending.clear();
  }
  LogProgress("refold done");
  return absl::OkStatus();
}

void FoldRunner::LogProgress(absl::string_view what) {
  for (const FoldStats& s : Stats()) {
    spdlog::info("fold runner {}: {}: fold {} version {} {} at {}", options_.name,
                 std::string(what), s.name, s.version, s.refolding ? "refolding" : "serving",
                 FormatPositions(s.applied));
  }
}

absl::Status FoldRunner::Start() {
  if (thread_.joinable()) {
    return absl::FailedPreconditionError(absl::StrCat("fold ", options_.name, ": already started"));
  }
  CRM_RETURN_IF_ERROR(Load());
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
    reopen_refold_ = false;
    refold_.reader.reset();
  }
  CRM_RETURN_IF_ERROR(OpenPass(serving_));
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  thread_ = std::thread(&FoldRunner::Run, this);
  return absl::OkStatus();
}

void FoldRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    running_ = false;
    if (serving_.reader != nullptr) serving_.reader->Close();
    if (refold_.reader != nullptr) refold_.reader->Close();
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&mu_);
    serving_.reader.reset();
    refold_.reader.reset();
  }
  NotifyWaiters();  // all fail: stopping
}

void FoldRunner::Run() {
  absl::Duration backoff = kMinBackoff;
  absl::Time next_progress_log = absl::Now() + kProgressLogInterval;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      if (reopen_refold_) {
        // Folds cleared by Rebuild join the refold pass, which starts again from the lowest
        // position of its folds (the others skip what they have). Not earlier: a batch the old
        // reader had polled would have moved a cleared fold past records it never saw.
        reopen_refold_ = false;
        for (const auto& entry : entries_) {
          if (entry->rebuild == Entry::RebuildState::kCleared) {
            entry->rebuild = Entry::RebuildState::kNone;
          }
        }
        refold_.reader.reset();
        refold_.pending.clear();
      }
    }
    const bool refolding = AnyRefolding();
    absl::Status status;
    if (refolding && refold_.reader == nullptr) status = OpenPass(refold_);
    if (status.ok()) {
      // While a refold runs, the serving pass takes what is there without waiting for more:
      // a wait here (10 ms) before each refold batch had halved the refold rate of an idle
      // process. The refold pass's own poll waits when it has caught up.
      absl::StatusOr<size_t> applied =
          ApplyOnce(serving_, refolding ? absl::Now() : absl::Now() + kPollInterval);
      NotifyWaiters();  // deadlines
      status = applied.status();
    }
    if (status.ok() && refolding) {
      absl::StatusOr<size_t> applied = ApplyOnce(refold_, absl::Now() + kRefoldPollInterval);
      status = applied.ok() ? JoinIfCaughtUp() : applied.status();
      if (status.ok() && absl::Now() >= next_progress_log) {
        LogProgress("refolding");
        next_progress_log = absl::Now() + kProgressLogInterval;
      }
    }
    if (status.ok()) {
      backoff = kMinBackoff;
      continue;
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    spdlog::warn("fold {}: {} (retrying in {})", options_.name, status.ToString(),
                 absl::FormatDuration(backoff));
    // Waits out the backoff, but wakes at once on Stop.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

absl::Status FoldRunner::CatchUp() {
  if (thread_.joinable()) {
    return absl::FailedPreconditionError(absl::StrCat("fold ", options_.name, ": already started"));
  }
  CRM_RETURN_IF_ERROR(Load());
  // Target: the log's end as of now.
  std::map<int32_t, int64_t> target;  // partition -> last offset to apply
  for (const auto& [partition, offset] : Applied()) {
    CRM_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(partition));
    if (offset < end - 1) target[partition] = end - 1;
  }
  if (target.empty()) return absl::OkStatus();
  CRM_RETURN_IF_ERROR(OpenPass(serving_));
  auto done = [&] {
    eventlog::PositionMap applied = Applied();
    return std::all_of(target.begin(), target.end(),
                       [&](const auto& t) { return applied[t.first] >= t.second; });
  };
  auto close = [&] {
    absl::MutexLock lock(&mu_);
    serving_.reader.reset();
    serving_.pending.clear();
  };
  int failures = 0;
  absl::Duration backoff = kMinBackoff;
  while (!done()) {
    absl::StatusOr<size_t> applied = ApplyOnce(serving_, absl::Now() + kPollInterval);
    if (applied.ok()) {
      failures = 0;
      backoff = kMinBackoff;
      continue;
    }
    if (++failures >= kCatchUpAttempts) {
      close();
      return applied.status();
    }
    spdlog::warn("fold {}: catch-up: {} (retrying in {})", options_.name,
                 applied.status().ToString(), absl::FormatDuration(backoff));
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  close();
  LogProgress("caught up");
  return absl::OkStatus();
}

absl::Status FoldRunner::CheckPartitions(const eventlog::PositionMap& positions) const {
  const int32_t partitions = log_->PartitionCount();
  for (const auto& [partition, offset] : positions) {
    if (partition < 0 || partition >= partitions) {
      return absl::InvalidArgumentError(
          absl::StrCat("fold ", options_.name, ": no partition ", partition));
    }
  }
  return absl::OkStatus();
}

bool FoldRunner::Reached(const eventlog::PositionMap& positions) const {
  for (const auto& [partition, offset] : positions) {
    auto it = applied_.find(partition);
    if (it == applied_.end() || it->second < offset) return false;
  }
  return true;
}

absl::Status FoldRunner::WaitFor(const eventlog::PositionMap& positions, absl::Time deadline) {
  CRM_RETURN_IF_ERROR(CheckPartitions(positions));
  auto reached_or_stopping = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || Reached(positions);
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&reached_or_stopping), deadline);
  if (Reached(positions)) return absl::OkStatus();
  if (stopping_) {
    return absl::UnavailableError(absl::StrCat("fold ", options_.name, ": stopped"));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("fold ", options_.name, ": positions not applied before the deadline"));
}

base::Future<base::Done> FoldRunner::WhenApplied(const eventlog::PositionMap& positions,
                                                 absl::Time deadline,
                                                 std::function<bool()> cancelled) {
  CRM_RETURN_IF_ERROR(CheckPartitions(positions));
  base::Promise<base::Done> promise;
  base::Future<base::Done> future = promise.future();
  {
    absl::MutexLock lock(&mu_);
    if (!Reached(positions)) {
      if (stopping_) {
        return absl::UnavailableError(absl::StrCat("fold ", options_.name, ": stopped"));
      }
      waiters_.push_back(Waiter{positions, deadline, std::move(cancelled), std::move(promise)});
      return future;
    }
  }
  promise.Set(base::Done{});
  return future;
}

void FoldRunner::NotifyWaiters() {
  std::vector<std::pair<base::Promise<base::Done>, absl::Status>> ready;
  {
    absl::MutexLock lock(&mu_);
    if (waiters_.empty()) return;
    const absl::Time now = absl::Now();
    std::vector<Waiter> still;
    for (Waiter& w : waiters_) {
      if (Reached(w.positions)) {
        ready.emplace_back(std::move(w.promise), absl::OkStatus());
      } else if (stopping_) {
        ready.emplace_back(std::move(w.promise), absl::UnavailableError(absl::StrCat(
                                                     "fold ", options_.name, ": stopped")));
      } else if (now >= w.deadline) {
        ready.emplace_back(
            std::move(w.promise),
            absl::DeadlineExceededError(absl::StrCat(
                "fold ", options_.name, ": positions not applied before the deadline")));
      } else if (w.cancelled && w.cancelled()) {
        ready.emplace_back(std::move(w.promise),
                           absl::CancelledError("the caller cancelled the wait"));
      } else {
        still.push_back(std::move(w));
      }
    }
    waiters_ = std::move(still);
  }
  for (auto& [promise, status] : ready) {
    if (status.ok()) {
      promise.Set(base::Done{});
    } else {
      promise.Set(status);
    }
  }
}

eventlog::PositionMap FoldRunner::Applied() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

absl::Status FoldRunner::Serving(absl::string_view fold) const {
  absl::MutexLock lock(&mu_);
  for (const auto& entry : entries_) {
    if (entry->fold->name() != fold) continue;
    if (!entry->refolding) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat(fold, " (version ", entry->fold->version(),
                     ") is being rebuilt from the start of the event log, now at ",
                     FormatPositions(entry->applied), " of ", FormatPositions(applied_),
                     "; it answers again once it has caught up: retry later"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("fold runner ", options_.name, " has no fold named ", fold));
}

std::vector<FoldRunner::FoldStats> FoldRunner::Stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<FoldStats> out;
  for (const auto& entry : entries_) {
    out.push_back({.name = entry->fold->name(),
                   .version = entry->fold->version(),
                   .refolding = entry->refolding,
                   .applied = entry->applied,
                   .dead_letters = entry->dead_letters.load(),
                   .dead_letters_by_partition = entry->dead_by_partition,
                   .unknown_records = entry->fold->unknown_records(),
                   .stored_dead_letters = entry->stored_dead_letters.load()});
  }
  return out;
}

FoldRunner::Progress FoldRunner::MeasureProgress() {
  absl::MutexLock measuring(&measure_mu_);
  eventlog::PositionMap applied = Applied();
  std::map<int32_t, int64_t> ends;
  absl::Status status;
  for (const auto& [partition, offset] : applied) {
    absl::StatusOr<int64_t> end = log_->EndOffset(partition);
    if (!end.ok()) {
      status = end.status();
      break;
    }
    ends[partition] = *end;
  }
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  log_status_ = status;
  if (status.ok()) {
    measured_ = now;
    for (const auto& [partition, end] : ends) {
      std::vector<EndSample>& samples = end_samples_[partition];
      if (samples.empty() || samples.back().end != end) samples.push_back({end, now});
      // Readings whose offsets are all applied say nothing more (the last one is kept).
      auto applied_it = applied_.find(partition);
      const int64_t done = applied_it == applied_.end() ? -1 : applied_it->second;
      size_t drop = 0;
      while (drop + 1 < samples.size() && samples[drop].end - 1 <= done) ++drop;
      samples.erase(samples.begin(), samples.begin() + drop);
    }
  }
  return ProgressLocked(now);
}

FoldRunner::Progress FoldRunner::LastProgress() const {
  absl::MutexLock lock(&mu_);
  return ProgressLocked(absl::Now());
}

FoldRunner::Progress FoldRunner::ProgressLocked(absl::Time now) const {
  Progress out;
  out.measured = measured_;
  out.log_status = log_status_;
  for (const auto& [partition, applied] : applied_) {
    PartitionProgress p{.partition = partition, .applied = applied};
    auto it = end_samples_.find(partition);
    if (it != end_samples_.end() && !it->second.empty()) {
      const std::vector<EndSample>& samples = it->second;
      p.end = samples.back().end;
      p.lag = std::max<int64_t>(0, p.end - 1 - applied);
      // The first reading whose end lies beyond what is applied saw the oldest unapplied offset.
      for (const EndSample& s : samples) {
        if (s.end - 1 > applied) {
          p.lag_time = std::max(absl::ZeroDuration(), now - s.seen);
          break;
        }
      }
    } else {
      p.end = applied + 1;
    }
    out.partitions.push_back(p);
  }
  return out;
}

int64_t FoldRunner::dead_letters() const {
  int64_t total = 0;
  for (const auto& entry : entries_) total += entry->dead_letters.load();
  return total;
}

FoldRunner::Entry* FoldRunner::FindEntry(absl::string_view fold) const {
  for (const auto& entry : entries_) {
    if (entry->fold->name() == fold) return entry.get();
  }
  return nullptr;
}

absl::StatusOr<bool> FoldRunner::Rebuild(absl::string_view fold) {
  Entry* entry = FindEntry(fold);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("fold runner ", options_.name, " has no fold ", fold));
  }
  if (!options_.online_rebuild) {
    return absl::FailedPreconditionError(absl::StrCat(
        "fold ", fold, " (", options_.name,
        ") cannot be rebuilt while the process serves: its readers do not wait for a rebuild; "
        "restart the process with --rebuild instead"));
  }
  const std::string name(fold);
  {
    // No batch of either pass, nor OfferCommitted, is being written while the fold leaves its
    // pass; from here on none includes it.
    absl::MutexLock apply(&apply_mu_);
    eventlog::PositionMap before;
    bool was_refolding = false;
    Entry::RebuildState was_rebuild = Entry::RebuildState::kNone;
    {
      absl::MutexLock lock(&mu_);
      if (!running_ || stopping_) {
        return absl::UnavailableError(absl::StrCat("fold runner ", options_.name, " is stopped"));
      }
      const bool failed_clear =
          entry->rebuild == Entry::RebuildState::kClearing && !entry->clear_running;
      if (entry->refolding && !failed_clear) return false;  // already refolding
      before = entry->applied;
      was_refolding = entry->refolding;
      was_rebuild = entry->rebuild;
      entry->refolding = true;
      entry->rebuild = Entry::RebuildState::kClearing;
      entry->clear_running = true;
      for (auto& [partition, offset] : entry->applied) offset = -1;
    }
    // Version 0 is no fold's version: a crash from here on clears the fold at the next start.
    kv::KvBatch batch = store_->NewBatch();
    batch.Put(MetaKey(name), FormatMeta({.version = 0, .refolding = true}));
    if (absl::Status s = store_->Write(batch); !s.ok()) {
      absl::MutexLock lock(&mu_);
      entry->refolding = was_refolding;
      entry->rebuild = was_rebuild;
      entry->clear_running = false;
      entry->applied = std::move(before);
      return absl::UnavailableError(
          absl::StrCat("fold ", name, ": cannot start the rebuild: ", s.message()));
    }
  }
  spdlog::info("fold runner {}: rebuilding fold {}: clearing its keys", options_.name, name);
  // The other folds go on meanwhile: nothing but this call writes the fold's keys now.
  absl::Status cleared = ClearFold(*entry);
  {
    absl::MutexLock lock(&mu_);
    entry->clear_running = false;
    if (cleared.ok()) {
      entry->rebuild = Entry::RebuildState::kCleared;
      reopen_refold_ = true;
    }
  }
  if (!cleared.ok()) {
    // Still out of both passes; a later Rebuild (or the next start) clears it again.
    return absl::UnavailableError(absl::StrCat(
        "fold ", name,
        ": clearing its keys failed (call Rebuild again, or restart): ", cleared.message()));
  }
  spdlog::info("fold runner {}: fold {} cleared; refolding it from the start of the log",
               options_.name, name);
  return true;
}

absl::StatusOr<FoldRunner::DeadLetter> FoldRunner::ReadDeadLetter(const DeadLetterId& id) const {
  CRM_ASSIGN_OR_RETURN(std::optional<std::string> letter,
                       store_->Get(DeadLetterKey(id.fold, id.position)));
  if (!letter.has_value()) {
    return absl::NotFoundError(absl::StrCat("fold ", id.fold, " has no dead letter at partition ",
                                            id.position.partition, " offset ", id.position.offset));
  }
  DeadLetter out;
  out.fold = id.fold;
  out.record.position = id.position;
  const size_t nul = letter->find('\0');
  out.error = letter->substr(0, nul);
  if (nul != std::string::npos) out.record.value = letter->substr(nul + 1);
  CRM_ASSIGN_OR_RETURN(std::optional<std::string> meta,
                       store_->Get(DeadRecordKey(id.fold, id.position)));
  if (meta.has_value()) out.has_key_and_headers = ParseDeadRecordValue(*meta, out.record);
  if (!out.has_key_and_headers) {
    out.record.key.clear();
    out.record.headers.clear();
  }
  return out;
}

absl::StatusOr<std::vector<FoldRunner::DeadLetter>> FoldRunner::DeadLetters(
    absl::string_view fold, const std::optional<DeadLetterId>& after, size_t limit) const {
  std::vector<std::string> names;
  if (!fold.empty()) {
    if (FindEntry(fold) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("fold runner ", options_.name, " has no fold ", fold));
    }
    names.emplace_back(fold);
  } else {
    for (const auto& entry : entries_) names.push_back(entry->fold->name());
    std::sort(names.begin(), names.end());
  }
  std::vector<DeadLetter> out;
  for (const std::string& name : names) {
    if (out.size() >= limit) break;
    if (after.has_value() && name < after->fold) continue;
    const std::string prefix = DeadLetterPrefix(name);
    const std::string start_after = after.has_value() && name == after->fold
                                        ? DeadLetterKey(name, after->position)
                                        : std::string();
    std::vector<eventlog::LogPosition> positions;
    CRM_RETURN_IF_ERROR(store_->ScanPrefix(prefix, start_after, limit - out.size(),
                                           [&](absl::string_view key, absl::string_view) {
                                             std::optional<eventlog::LogPosition> position =
                                                 ParseDeadLetterSuffix(key.substr(prefix.size()));
                                             if (position.has_value())
                                               positions.push_back(*position);
                                             return true;
                                           }));
    for (const eventlog::LogPosition& position : positions) {
      absl::StatusOr<DeadLetter> letter = ReadDeadLetter({name, position});
      if (absl::IsNotFound(letter.status())) continue;  // retried meanwhile
      if (!letter.ok()) return letter.status();
      out.push_back(*std::move(letter));
    }
  }
  return out;
}

absl::StatusOr<FoldRunner::DeadLetter> FoldRunner::GetDeadLetter(const DeadLetterId& id) const {
  if (FindEntry(id.fold) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("fold runner ", options_.name, " has no fold ", id.fold));
  }
  return ReadDeadLetter(id);
}

absl::Status FoldRunner::RetryDeadLetter(const DeadLetterId& id) {
  Entry* entry = FindEntry(id.fold);
  if (entry == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("fold runner ", options_.name, " has no fold ", id.fold));
  }
  // Serialized with the passes' writes and OfferCommitted: the fold's keys do not change under
  // the retry, and the fold does not leave its pass meanwhile.
  absl::MutexLock apply(&apply_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (entry->refolding) {
      return absl::UnavailableError(
          absl::StrCat("fold ", id.fold,
                       " is being rebuilt; its refold records its dead letters again: retry "
                       "once it serves"));
    }
  }
  CRM_ASSIGN_OR_RETURN(DeadLetter letter, ReadDeadLetter(id));
  kv::KvBatch batch = store_->NewBatch();
  absl::Status applied = entry->fold->Apply(letter.record, batch);
  if (absl::IsDataLoss(applied)) {
    return absl::FailedPreconditionError(
        absl::StrCat("fold ", id.fold, " still cannot apply the record: ", applied.message()));
  }
  CRM_RETURN_IF_ERROR(applied);
  batch.Delete(DeadLetterKey(id.fold, id.position));
  batch.Delete(DeadRecordKey(id.fold, id.position));
  CRM_RETURN_IF_ERROR(store_->Write(batch));
  --entry->stored_dead_letters;
  spdlog::info("fold {}: dead letter at partition {} offset {} retried and applied", id.fold,
               id.position.partition, id.position.offset);
  return absl::OkStatus();
}

}  // namespace crm::fold
