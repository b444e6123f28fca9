#include "services/admin/admin_service.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/base/process_stat.h"
#include "common/base/status_macros.h"
#include "common/base/time_util.h"
#include "common/status/errors.h"
#include "crm/events/v1/envelope.pb.h"
#include "services/admin/audit_log.h"
#include "services/query/page_token.h"
#include "services/query/query_support.h"

#ifndef CRM_VERSION
#define CRM_VERSION "unknown"
#endif

namespace crm::services::admin {
namespace {

namespace adminv1 = crm::admin::v1;

constexpr absl::Duration kProgressMaxAge = absl::Seconds(2);
constexpr int32_t kDefaultDeadLetters = 50;
constexpr int32_t kDefaultEvents = 100;
constexpr char kDeadLetterTokenKind[] = "dead-letters";
constexpr char kEventTokenKind[] = "events";
constexpr char kAuditTokenKind[] = "audit";
constexpr size_t kMaxCustomerIdBytes = 256;

using Offsets = std::map<int32_t, int64_t>;  // partition -> offset

std::string BinaryName() {
  std::ifstream in("/proc/self/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

google::protobuf::Duration ToDuration(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out.set_seconds(nanos / 1000000000);
  out.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return out;
}

std::string DeadLetterName(absl::string_view fold, const eventlog::LogPosition& position) {
  return absl::StrCat("folds/", fold, "/deadLetters/", position.partition, "-", position.offset);
}

// "folds/{fold}/deadLetters/{partition}-{offset}".
absl::StatusOr<fold::FoldRunner::DeadLetterId> ParseDeadLetterName(absl::string_view name) {
  auto bad = [] {
    return status::InvalidArgument("name", "must be folds/{fold}/deadLetters/{partition}-{offset}");
  };
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "folds" || parts[1].empty() || parts[2] != "deadLetters") {
    return bad();
  }
  std::pair<absl::string_view, absl::string_view> position =
      absl::StrSplit(parts[3], absl::MaxSplits('-', 1));
  fold::FoldRunner::DeadLetterId id{std::string(parts[1]), {}};
  if (!absl::SimpleAtoi(position.first, &id.position.partition) ||
      !absl::SimpleAtoi(position.second, &id.position.offset) || id.position.partition < 0 ||
      id.position.offset < 0) {
    return bad();
  }
  return id;
}

absl::Status FoldNotFound(absl::string_view fold) {
  return status::Error(
      absl::StatusCode::kNotFound,
      absl::StrCat("this process has no fold named \"", fold, "\" (GetStatus lists its folds)"),
      "FOLD_NOT_FOUND", {{"fold", std::string(fold)}});
}

std::string HeaderValue(const eventlog::LogRecord& record, absl::string_view name) {
  for (const auto& [key, value] : record.headers) {
    if (key == name) return value;
  }
  return "";
}

void CopyHeaders(const eventlog::LogRecord& record,
                 google::protobuf::RepeatedPtrField<adminv1::Header>* out) {
  for (const auto& [name, value] : record.headers) {
    adminv1::Header* h = out->Add();
    h->set_name(name);
    h->set_value(value);
  }
}

adminv1::DeadLetter ToProto(const fold::FoldRunner::DeadLetter& d, bool with_value) {
  adminv1::DeadLetter out;
  out.set_name(DeadLetterName(d.fold, d.record.position));
  out.set_fold(d.fold);
  out.set_partition(d.record.position.partition);
  out.set_offset(d.record.position.offset);
  out.set_error(d.error);
  out.set_event_type(HeaderValue(d.record, "event-type"));
  out.set_key(d.record.key);
  CopyHeaders(d.record, out.mutable_headers());
  if (with_value) out.set_value(d.record.value);
  return out;
}

// A record's event type and recording time: the headers, else the decoded envelope.
struct RecordFacts {
  std::string event_type;
  std::optional<absl::Time> time;
};
RecordFacts FactsOf(const eventlog::LogRecord& record) {
  RecordFacts facts;
  facts.event_type = HeaderValue(record, "event-type");
  const std::string ce_time = HeaderValue(record, "ce_time");
  absl::Time t;
  std::string ignored;
  if (!ce_time.empty() && absl::ParseTime(absl::RFC3339_full, ce_time, &t, &ignored)) {
    facts.time = t;
  }
  if (facts.event_type.empty() || !facts.time.has_value()) {
    crm::events::v1::EventEnvelope envelope;
    if (envelope.ParseFromString(record.value)) {
      if (facts.event_type.empty()) facts.event_type = envelope.event_type();
      if (!facts.time.has_value() && envelope.has_recorded_at() &&
          base::IsValidTimestamp(envelope.recorded_at())) {
        facts.time = base::ToTime(envelope.recorded_at());
      }
    }
  }
  return facts;
}

// The cursor of an events page token: the next offset to read per partition, "p:o;p:o".
std::string EncodeCursor(const std::map<int32_t, int64_t>& next) {
  return absl::StrJoin(next, ";", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, ":", entry.second);
  });
}

absl::StatusOr<std::map<int32_t, int64_t>> DecodeCursor(absl::string_view cursor) {
  std::map<int32_t, int64_t> next;
  for (absl::string_view entry : absl::StrSplit(cursor, ';', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, ':');
    int32_t partition;
    int64_t offset;
    if (!absl::SimpleAtoi(kv.first, &partition) || !absl::SimpleAtoi(kv.second, &offset) ||
        offset < 0) {
      return status::InvalidArgument("page_token", "is malformed");
    }
    next[partition] = offset;
  }
  return next;
}

// What a page token is tied to: the request's filters, base64 so that no filter's text can break
// the token's layout (lines).
std::string Fingerprint(const std::vector<std::string>& filters) {
  return absl::WebSafeBase64Escape(absl::StrJoin(filters, "\n"));
}

std::string FormatBound(const std::optional<absl::Time>& t) {
  return t.has_value() ? absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()) : "";
}

// Whether `t` is in the window; a record without a time is in no bounded window.
bool InWindow(const query::Window& window, const std::optional<absl::Time>& t) {
  if (window.start.has_value() && (!t || *t < *window.start)) return false;
  if (window.end.has_value() && (!t || *t >= *window.end)) return false;
  return true;
}

// The customers whose events a ListEvents page exports: each event's customer_id (its
// envelope's), else its key when that is not a stream of the organisation.
std::vector<std::string> CustomersOfEvents(const google::protobuf::Message& response) {
  const auto& page = static_cast<const adminv1::ListEventsResponse&>(response);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const adminv1::LogEvent& e : page.events()) {
    crm::events::v1::EventEnvelope envelope;
    std::string id;
    if (envelope.ParseFromString(e.value()) && !envelope.customer_id().empty()) {
      id = envelope.customer_id();
    } else if (envelope.aggregate().empty() && e.key() != "org") {
      id = e.key();  // undecodable: its key is the best evidence of whose it is
    }
    if (id.empty()) continue;
    std::string name = absl::StrCat("customers/", id);
    if (seen.insert(name).second) out.push_back(std::move(name));
  }
  return out;
}

}  // namespace

Admin::Admin(ProcessInfo info, Limits limits)
    : info_(std::move(info)),
      limits_(limits),
      start_time_(base::ReadProcessStat().start_time.value_or(absl::Now())) {}

const ProcessInfo::Store* Admin::StoreOf(absl::string_view fold) const {
  for (const ProcessInfo::Store& store : info_.stores) {
    for (const fold::FoldRunner::FoldStats& s : store.runner->Stats()) {
      if (s.name == fold) return &store;
    }
  }
  return nullptr;
}

fold::FoldRunner::Progress Admin::Progress(fold::FoldRunner* runner) {
  fold::FoldRunner::Progress progress = runner->LastProgress();
  if (absl::Now() - progress.measured < kProgressMaxAge) return progress;
  absl::MutexLock lock(&measure_mu_);
  progress = runner->LastProgress();  // another call may have measured meanwhile
  if (absl::Now() - progress.measured < kProgressMaxAge) return progress;
  return runner->MeasureProgress();
}

absl::StatusOr<adminv1::ProcessStatus> Admin::GetStatus(const adminv1::GetStatusRequest& request,
                                                        const rpc::CallContext& call) {
  adminv1::ProcessStatus out;
  out.set_binary(info_.binary.empty() ? BinaryName() : info_.binary);
  if (info_.writer) out.add_roles("command");
  for (const ProcessInfo::Store& store : info_.stores) {
    if (store.name == "views") out.add_roles("query");
  }
  out.set_engine(info_.engine);
  out.set_version(CRM_VERSION);
  *out.mutable_start_time() = base::ToTimestamp(start_time_);
  out.set_log(info_.log_name);
  const int32_t partitions = info_.log == nullptr ? 0 : info_.log->PartitionCount();
  out.set_partition_count(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    if (info_.writer &&
        info_.log->WriterOf(p) % std::max(1, info_.replica_count) == info_.replica_index) {
      out.add_written_partitions(p);
    }
    out.add_read_partitions(p);
  }
  for (const ProcessInfo::Store& store : info_.stores) {
    adminv1::StoreStatus* s = out.add_stores();
    s->set_name(store.name);
    for (const fold::FoldRunner::FoldStats& f : store.runner->Stats()) {
      adminv1::FoldStatus* fs = s->add_folds();
      fs->set_name(f.name);
      fs->set_version(f.version);
      fs->set_refolding(f.refolding);
      fs->set_dead_letters(f.stored_dead_letters);
      fs->set_dead_letters_since_start(f.dead_letters);
      fs->set_unknown_records(f.unknown_records);
      for (const auto& [partition, offset] : f.applied) {
        adminv1::PartitionOffset* a = fs->add_applied();
        a->set_partition(partition);
        a->set_offset(offset);
      }
    }
    const fold::FoldRunner::Progress progress = Progress(store.runner);
    if (progress.measured != absl::InfinitePast()) {
      *s->mutable_measure_time() = base::ToTimestamp(progress.measured);
    }
    if (!progress.log_status.ok()) s->set_log_error(progress.log_status.ToString());
    for (const fold::FoldRunner::PartitionProgress& p : progress.partitions) {
      adminv1::PartitionProgress* pp = s->add_partitions();
      pp->set_partition(p.partition);
      pp->set_applied_offset(p.applied);
      pp->set_end_offset(p.end);
      pp->set_lag_offsets(p.lag);
      *pp->mutable_lag() = ToDuration(p.lag_time);
    }
  }
  if (info_.health) {
    for (const auto& [service, status] : info_.health()) {
      adminv1::HealthStatus* h = out.add_health();
      h->set_service(service);
      h->set_status(status);
    }
  }
  return out;
}

absl::StatusOr<adminv1::RebuildFoldsResponse> Admin::RebuildFolds(
    const adminv1::RebuildFoldsRequest& request, const rpc::CallContext& call) {
  if (request.fold().empty() && request.store().empty()) {
    return status::InvalidArguments(
        {{"fold", "name a fold, or a store to rebuild all its folds"},
         {"store", "name a fold, or a store to rebuild all its folds"}});
  }
  std::vector<std::pair<const ProcessInfo::Store*, std::string>> targets;
  if (!request.fold().empty()) {
    const ProcessInfo::Store* store = StoreOf(request.fold());
    if (store == nullptr || (!request.store().empty() && store->name != request.store())) {
      return FoldNotFound(request.fold());
    }
    targets.emplace_back(store, request.fold());
  } else {
    const ProcessInfo::Store* store = nullptr;
    for (const ProcessInfo::Store& s : info_.stores) {
      if (s.name == request.store()) store = &s;
    }
    if (store == nullptr) {
      return status::Error(absl::StatusCode::kNotFound,
                           absl::StrCat("this process has no store named \"", request.store(),
                                        "\" (GetStatus lists its stores)"),
                           "STORE_NOT_FOUND", {{"store", request.store()}});
    }
    for (const fold::FoldRunner::FoldStats& f : store->runner->Stats()) {
      targets.emplace_back(store, f.name);
    }
  }
  adminv1::RebuildFoldsResponse out;
  for (const auto& [store, fold] : targets) {
    absl::StatusOr<bool> started = store->runner->Rebuild(fold);
    if (absl::IsFailedPrecondition(started.status())) {
      return status::Error(absl::StatusCode::kFailedPrecondition, started.status().message(),
                           "ONLINE_REBUILD_NOT_SUPPORTED",
                           {{"fold", fold}, {"store", store->name}});
    }
    if (absl::IsNotFound(started.status())) return FoldNotFound(fold);
    if (!started.ok()) {
      return status::Error(absl::StatusCode::kUnavailable, started.status().message(),
                           "FOLD_RUNNER_UNAVAILABLE", {{"fold", fold}, {"store", store->name}});
    }
    adminv1::RebuildFoldsResponse::Fold* f = out.add_folds();
    f->set_name(fold);
    f->set_store(store->name);
    f->set_started(*started);
  }
  return out;
}

absl::StatusOr<adminv1::ListDeadLettersResponse> Admin::ListDeadLetters(
    const adminv1::ListDeadLettersRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(const size_t page_size,
                       query::PageSize(request.page_size(), kDefaultDeadLetters));
  std::string only;  // one fold, or every fold if empty
  if (!request.parent().empty() && request.parent() != "folds/-") {
    absl::string_view parent = request.parent();
    if (!absl::ConsumePrefix(&parent, "folds/") || parent.empty() ||
        absl::StrContains(parent, '/')) {
      return status::InvalidArgument("parent", "must be folds/{fold} or folds/-");
    }
    only = std::string(parent);
    if (StoreOf(only) == nullptr) return FoldNotFound(only);
  }
  CRM_ASSIGN_OR_RETURN(
      const std::string cursor,
      query::DecodePageToken(request.page_token(), kDeadLetterTokenKind, request.parent()));
  std::optional<fold::FoldRunner::DeadLetterId> after;
  if (!cursor.empty()) {
    absl::StatusOr<fold::FoldRunner::DeadLetterId> id = ParseDeadLetterName(cursor);
    if (!id.ok()) return status::InvalidArgument("page_token", "is malformed");
    after = *id;
  }
  // Every fold of the process in name order (names are unique across its stores).
  std::vector<std::pair<std::string, const ProcessInfo::Store*>> folds;
  for (const ProcessInfo::Store& store : info_.stores) {
    for (const fold::FoldRunner::FoldStats& f : store.runner->Stats()) {
      if (only.empty() || f.name == only) folds.emplace_back(f.name, &store);
    }
  }
  std::sort(folds.begin(), folds.end());
  adminv1::ListDeadLettersResponse out;
  // One more than a page, to know whether another page follows.
  std::vector<fold::FoldRunner::DeadLetter> found;
  for (const auto& [name, store] : folds) {
    if (found.size() > page_size) break;
    if (after.has_value() && name < after->fold) continue;
    std::optional<fold::FoldRunner::DeadLetterId> from;
    if (after.has_value() && name == after->fold) from = after;
    absl::StatusOr<std::vector<fold::FoldRunner::DeadLetter>> letters =
        store->runner->DeadLetters(name, from, page_size + 1 - found.size());
    if (absl::IsNotFound(letters.status())) return FoldNotFound(name);
    if (!letters.ok()) return letters.status();
    for (auto& d : *letters) found.push_back(std::move(d));
  }
  const bool more = found.size() > page_size;
  if (more) found.resize(page_size);
  for (const auto& d : found) *out.add_dead_letters() = ToProto(d, /*with_value=*/false);
  if (more) {
    out.set_next_page_token(
        query::EncodePageToken(kDeadLetterTokenKind, request.parent(),
                               DeadLetterName(found.back().fold, found.back().record.position)));
  }
  return out;
}

absl::StatusOr<adminv1::DeadLetter> Admin::GetDeadLetter(
    const adminv1::GetDeadLetterRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(const fold::FoldRunner::DeadLetterId id,
                       ParseDeadLetterName(request.name()));
  const ProcessInfo::Store* store = StoreOf(id.fold);
  if (store == nullptr) return FoldNotFound(id.fold);
  absl::StatusOr<fold::FoldRunner::DeadLetter> letter = store->runner->GetDeadLetter(id);
  if (absl::IsNotFound(letter.status())) {
    return query::NotFound(request.name(), "DEAD_LETTER_NOT_FOUND", "crm.admin.v1.DeadLetter");
  }
  if (!letter.ok()) return letter.status();
  return ToProto(*letter, /*with_value=*/true);
}

absl::StatusOr<adminv1::RetryDeadLetterResponse> Admin::RetryDeadLetter(
    const adminv1::RetryDeadLetterRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(const fold::FoldRunner::DeadLetterId id,
                       ParseDeadLetterName(request.name()));
  const ProcessInfo::Store* store = StoreOf(id.fold);
  if (store == nullptr) return FoldNotFound(id.fold);
  const absl::Status retried = store->runner->RetryDeadLetter(id);
  const std::map<std::string, std::string> metadata = {{"name", request.name()}, {"fold", id.fold}};
  if (absl::IsNotFound(retried)) {
    return query::NotFound(request.name(), "DEAD_LETTER_NOT_FOUND", "crm.admin.v1.DeadLetter");
  }
  if (absl::IsFailedPrecondition(retried)) {
    return status::Error(absl::StatusCode::kFailedPrecondition,
                         absl::StrCat(request.name(), " still fails: ", retried.message()),
                         "DEAD_LETTER_STILL_FAILS", metadata);
  }
  if (absl::IsUnavailable(retried)) {
    // The fold refolds (or the store cannot be written): either way, retry later.
    const bool refolding = !store->runner->Serving(id.fold).ok();
    return status::Error(absl::StatusCode::kUnavailable, retried.message(),
                         refolding ? "FOLD_REBUILDING" : "UNAVAILABLE", metadata);
  }
  if (!retried.ok()) return retried;
  adminv1::RetryDeadLetterResponse out;
  out.set_name(request.name());
  return out;
}

absl::StatusOr<bool> Admin::ScanLog(eventlog::EventLog* log, const std::vector<int32_t>& partitions,
                                    bool from_end, Offsets& next, size_t page_size,
                                    const rpc::CallContext& call,
                                    const std::function<bool(const eventlog::LogRecord&)>& take) {
  std::map<int32_t, int64_t> end;  // the log's end per partition as the call begins
  std::map<int32_t, int64_t> start;
  for (int32_t p : partitions) {
    CRM_ASSIGN_OR_RETURN(end[p], log->EndOffset(p));
    if (!next.contains(p)) next[p] = from_end ? end[p] : 0;
    if (next[p] < end[p]) start[p] = next[p];
  }
  for (const auto& [p, offset] : next) {
    // A token naming partitions this filter does not read is malformed.
    if (!end.contains(p)) return status::InvalidArgument("page_token", "is malformed");
  }
  auto at_end = [&] {
    return std::all_of(end.begin(), end.end(),
                       [&](const auto& e) { return next[e.first] >= e.second; });
  };
  if (!start.empty()) {
    CRM_ASSIGN_OR_RETURN(std::unique_ptr<eventlog::LogReader> reader, log->NewReader(start));
    const absl::Time read_until =
        std::min(absl::Now() + limits_.max_read_time, call.deadline - absl::Milliseconds(200));
    size_t scanned = 0;
    size_t taken = 0;
    bool full = false;
    while (!full && !at_end() && scanned < limits_.max_scanned && absl::Now() < read_until &&
           !call.cancelled()) {
      absl::StatusOr<std::vector<eventlog::LogRecord>> records =
          reader->Poll(std::min<size_t>(512, limits_.max_scanned - scanned),
                       std::min(read_until, absl::Now() + absl::Milliseconds(200)));
      if (!records.ok()) {
        if (absl::IsCancelled(records.status())) break;
        return records.status();
      }
      bool consumed_all = true;
      for (const eventlog::LogRecord& record : *records) {
        const int32_t p = record.position.partition;
        if (!end.contains(p) || record.position.offset >= end[p] ||
            record.position.offset < next[p]) {
          continue;  // beyond the end as the call began: the next call reads it
        }
        if (full) {
          consumed_all = false;
          break;
        }
        next[p] = record.position.offset + 1;
        ++scanned;
        if (take(record) && ++taken >= page_size) full = true;
      }
      if (consumed_all) {
        // Offsets without records (Kafka transaction markers) the reader moved past.
        for (const auto& [p, offset] : reader->PassedOffsets()) {
          if (end.contains(p)) next[p] = std::max(next[p], std::min(offset + 1, end[p]));
        }
      }
    }
    reader->Close();
  }
  return at_end();
}

absl::StatusOr<adminv1::ListEventsResponse> Admin::ListEvents(
    const adminv1::ListEventsRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(const size_t page_size,
                       query::PageSize(request.page_size(), kDefaultEvents));
  if (request.customer_id().size() > kMaxCustomerIdBytes) {
    return status::InvalidArgument("customer_id", "is longer than 256 bytes");
  }
  CRM_ASSIGN_OR_RETURN(
      const query::Window window,
      query::CheckWindow(request.has_start_time(), request.start_time(), "start_time",
                         request.has_end_time(), request.end_time(), "end_time"));
  const std::set<std::string> types(request.event_types().begin(), request.event_types().end());
  const std::string fingerprint = Fingerprint({request.customer_id(), absl::StrJoin(types, ","),
                                               FormatBound(window.start), FormatBound(window.end)});
  CRM_ASSIGN_OR_RETURN(const std::string cursor,
                       query::DecodePageToken(request.page_token(), kEventTokenKind, fingerprint));
  CRM_ASSIGN_OR_RETURN(Offsets next, DecodeCursor(cursor));

  eventlog::EventLog* log = info_.log;
  std::vector<int32_t> partitions;
  if (!request.customer_id().empty()) {
    partitions.push_back(log->PartitionOf(request.customer_id()));
  } else {
    for (int32_t p = 0; p < log->PartitionCount(); ++p) partitions.push_back(p);
  }
  adminv1::ListEventsResponse out;
  CRM_ASSIGN_OR_RETURN(
      const bool at_end,
      ScanLog(log, partitions, cursor.empty() && request.start_at_end(), next, page_size, call,
              [&](const eventlog::LogRecord& record) {
                if (!request.customer_id().empty() && record.key != request.customer_id()) {
                  return false;
                }
                const RecordFacts facts = FactsOf(record);
                if (!types.empty() && !types.contains(facts.event_type)) return false;
                if (!InWindow(window, facts.time)) return false;
                adminv1::LogEvent* e = out.add_events();
                e->set_partition(record.position.partition);
                e->set_offset(record.position.offset);
                e->set_key(record.key);
                CopyHeaders(record, e->mutable_headers());
                e->set_event_type(facts.event_type);
                if (facts.time.has_value()) {
                  *e->mutable_record_time() = base::ToTimestamp(*facts.time);
                }
                e->set_value(record.value);
                return true;
              }));
  const std::string token =
      query::EncodePageToken(kEventTokenKind, fingerprint, EncodeCursor(next));
  out.set_resume_page_token(token);
  if (!at_end) out.set_next_page_token(token);
  return out;
}

absl::StatusOr<adminv1::ListAuditRecordsResponse> Admin::ListAuditRecords(
    const adminv1::ListAuditRecordsRequest& request, const rpc::CallContext& call) {
  CRM_ASSIGN_OR_RETURN(const size_t page_size,
                       query::PageSize(request.page_size(), kDefaultEvents));
  if (!request.customer().empty()) {
    absl::string_view id = request.customer();
    if (!absl::ConsumePrefix(&id, "customers/") || id.empty() || absl::StrContains(id, '/') ||
        id.size() > kMaxCustomerIdBytes) {
      return status::InvalidArgument("customer", "must be customers/{customer_id}");
    }
  }
  CRM_ASSIGN_OR_RETURN(
      const query::Window window,
      query::CheckWindow(request.has_start_time(), request.start_time(), "start_time",
                         request.has_end_time(), request.end_time(), "end_time"));
  const std::string fingerprint =
      Fingerprint({request.customer(), request.subject(), request.method(),
                   FormatBound(window.start), FormatBound(window.end)});
  CRM_ASSIGN_OR_RETURN(const std::string cursor,
                       query::DecodePageToken(request.page_token(), kAuditTokenKind, fingerprint));
  CRM_ASSIGN_OR_RETURN(Offsets next, DecodeCursor(cursor));
  eventlog::EventLog* log = info_.audit_log;
  if (log == nullptr) {
    return status::Error(absl::StatusCode::kFailedPrecondition, "this process keeps no audit log",
                         "AUDIT_LOG_MISSING");
  }
  std::vector<int32_t> partitions;
  if (!request.subject().empty()) {
    partitions.push_back(log->PartitionOf(request.subject()));  // records are keyed by subject
  } else {
    for (int32_t p = 0; p < log->PartitionCount(); ++p) partitions.push_back(p);
  }
  // "GetCustomer" matches "/crm.v1.CustomerQueryService/GetCustomer".
  auto method_matches = [&](const std::string& method) {
    if (request.method().empty() || method == request.method()) return true;
    return absl::EndsWith(method, absl::StrCat("/", request.method()));
  };
  adminv1::ListAuditRecordsResponse out;
  CRM_ASSIGN_OR_RETURN(
      const bool at_end,
      ScanLog(log, partitions, /*from_end=*/false, next, page_size, call,
              [&](const eventlog::LogRecord& record) {
                if (!request.subject().empty() && record.key != request.subject()) return false;
                absl::StatusOr<adminv1::AuditRecord> audit = AuditLog::Decode(record);
                if (!audit.ok()) return false;  // not written by this build: skipped
                if (!request.subject().empty() && audit->subject() != request.subject()) {
                  return false;
                }
                if (!method_matches(audit->method())) return false;
                if (!request.customer().empty() &&
                    std::none_of(audit->customers().begin(), audit->customers().end(),
                                 [&](const std::string& c) {
                                   return c == request.customer() || c == rpc::kEveryCustomer;
                                 })) {
                  return false;
                }
                if (!InWindow(window, base::ToTime(audit->record_time()))) return false;
                *out.add_audit_records() = *std::move(audit);
                return true;
              }));
  const std::string token =
      query::EncodePageToken(kAuditTokenKind, fingerprint, EncodeCursor(next));
  out.set_resume_page_token(token);
  if (!at_end) out.set_next_page_token(token);
  return out;
}

AdminService::AdminService(Admin* admin, rpc::Executor* executor)
    : rpc::ServiceTable(crm::admin::v1::AdminService::service_full_name(), executor) {
  Unary<adminv1::GetStatusRequest, adminv1::ProcessStatus>(
      "GetStatus",
      [admin](const auto& request, const rpc::CallContext& call)
          -> base::Future<adminv1::ProcessStatus> { return admin->GetStatus(request, call); });
  Unary<adminv1::RebuildFoldsRequest, adminv1::RebuildFoldsResponse>(
      "RebuildFolds",
      [admin](const auto& request,
              const rpc::CallContext& call) -> base::Future<adminv1::RebuildFoldsResponse> {
        return admin->RebuildFolds(request, call);
      });
  Unary<adminv1::ListDeadLettersRequest, adminv1::ListDeadLettersResponse>(
      "ListDeadLetters",
      [admin](const auto& request,
              const rpc::CallContext& call) -> base::Future<adminv1::ListDeadLettersResponse> {
        return admin->ListDeadLetters(request, call);
      });
  Unary<adminv1::GetDeadLetterRequest, adminv1::DeadLetter>(
      "GetDeadLetter",
      [admin](const auto& request, const rpc::CallContext& call)
          -> base::Future<adminv1::DeadLetter> { return admin->GetDeadLetter(request, call); });
  Unary<adminv1::RetryDeadLetterRequest, adminv1::RetryDeadLetterResponse>(
      "RetryDeadLetter",
      [admin](const auto& request,
              const rpc::CallContext& call) -> base::Future<adminv1::RetryDeadLetterResponse> {
        return admin->RetryDeadLetter(request, call);
      });
  Unary<adminv1::ListEventsRequest, adminv1::ListEventsResponse>(
      "ListEvents",
      [admin](const auto& request,
              const rpc::CallContext& call) -> base::Future<adminv1::ListEventsResponse> {
        return admin->ListEvents(request, call);
      });
  Unary<adminv1::ListAuditRecordsRequest, adminv1::ListAuditRecordsResponse>(
      "ListAuditRecords",
      [admin](const auto& request,
              const rpc::CallContext& call) -> base::Future<adminv1::ListAuditRecordsResponse> {
        return admin->ListAuditRecords(request, call);
      });
  // An export of the log's raw events reads the customers they belong to.
  AuditReads("ListEvents", &CustomersOfEvents);
}

}  // namespace crm::services::admin
