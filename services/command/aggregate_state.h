// The command side's state for every aggregate other than customers (complaints, interactions,
// departments, teams, staff): a fold of the log that the command executor decides against.
//
// Store layout (the command-state store; the fold runner's own keys aside):
//   a/<aggregate name>  -> crm.internal.v1.AggregateRecord (state message, version, token)
//   q/<request_id>      -> crm.internal.v1.RequestRecord (first answer, AIP-155)
//   plus whatever secondary keys an AggregateKind's Index writes (each kind its own prefix,
//   e.g. the complaint deadline index).
//
// Each aggregate kind (crm.v1.Complaint, crm.v1.Staff, ...) plugs in through AggregateKind: which
// event payloads it owns and its pure Apply from the domain library. The fold is idempotent by
// aggregate version, so replays and rebuilds give the same store.
//
// Thread-safe: AggregateState reads a thread-safe store; the fold runs on its runner's thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/events/v1/envelope.pb.h"
#include "crm/internal/v1/command_state.pb.h"

namespace crm::services::command {

using Event = crm::events::v1::EventEnvelope;

// How the command side folds one kind of aggregate. Implementations are immutable.
class AggregateKind {
 public:
  virtual ~AggregateKind() = default;
  // Whether events with this payload belong to this kind.
  virtual bool Owns(const Event& event) const = 0;
  // The state after `event`, serialized; `state` is the serialized state before it ("" for an
  // aggregate without events). The caller checked aggregate_version == version + 1.
  // FAILED_PRECONDITION / DATA_LOSS if the event does not apply.
  virtual absl::StatusOr<std::string> Apply(const std::string& state, const Event& event) const = 0;
  // Secondary keys of the aggregate, written in the same batch as the state: called after each
  // applied event with the serialized state before ("" if new) and after, and the event.
  virtual absl::Status Index(absl::string_view aggregate, const std::string& before,
                             const std::string& after, const Event& event,
                             kv::KvBatch& batch) const {
    return absl::OkStatus();
  }
  // Whether commands on this kind are rows that callers reach by their holders
  // (common/auth/grant.h): customers, complaints, interactions. Org aggregates (admin-only
  // methods) and e-mail reservations (internal) are not.
  virtual bool guarded() const { return false; }
  // The staff ids holding the aggregate in serialized `state` (its owner, assignee, staff
  // member), besides the owner of its customer, which the executor adds.
  virtual std::vector<std::string> Holders(const std::string& state) const { return {}; }
};

// An AggregateKind over a typed state message and the domain's pure functions.
template <typename StateT>
class TypedKind : public AggregateKind {
 public:
  using OwnsFn = std::function<bool(const Event&)>;
  using ApplyFn = std::function<absl::Status(StateT&, const Event&)>;
  using IndexFn =
      std::function<absl::Status(absl::string_view aggregate, const StateT* before,
                                 const StateT& after, const Event& event, kv::KvBatch& batch)>;
  using HoldersFn = std::function<std::vector<std::string>(const StateT&)>;

  TypedKind(OwnsFn owns, ApplyFn apply, IndexFn index = nullptr)
      : owns_(std::move(owns)), apply_(std::move(apply)), index_(std::move(index)) {}

  bool Owns(const Event& event) const override { return owns_(event); }

  absl::StatusOr<std::string> Apply(const std::string& state, const Event& event) const override {
    StateT typed;
    if (!typed.ParseFromString(state)) return absl::DataLossError("stored state cannot be decoded");
    absl::Status applied = apply_(typed, event);
    if (!applied.ok()) return applied;
    std::string out;
    typed.SerializeToString(&out);
    return out;
  }

  absl::Status Index(absl::string_view aggregate, const std::string& before,
                     const std::string& after, const Event& event,
                     kv::KvBatch& batch) const override {
    if (!index_) return absl::OkStatus();
    StateT b, a;
    if (!b.ParseFromString(before) || !a.ParseFromString(after)) {
      return absl::DataLossError("stored state cannot be decoded");
    }
    return index_(aggregate, before.empty() ? nullptr : &b, a, event, batch);
  }

  // Makes the kind guarded, its holders given by `holders`. Call once, before use.
  TypedKind& Guard(HoldersFn holders) {
    holders_ = std::move(holders);
    return *this;
  }
  bool guarded() const override { return static_cast<bool>(holders_); }
  std::vector<std::string> Holders(const std::string& state) const override {
    StateT typed;
    if (!holders_ || !typed.ParseFromString(state)) return {};
    return holders_(typed);
  }

  // Typed access for the executor.
  absl::Status ApplyTyped(StateT& state, const Event& event) const { return apply_(state, event); }

 private:
  OwnsFn owns_;
  ApplyFn apply_;
  IndexFn index_;
  HoldersFn holders_;
};

// Folds the events of the registered kinds; ignores all others. Does not own the kinds.
// The fold "command-state" owns its whole store (the command-state store holds nothing else), so
// bumping kVersion, like --rebuild, refolds the command state from the start of the log.
// An event of a type this build does not know (domain::IsUnknownEventType) goes to the kind of
// the aggregate it names, whose Apply advances the version only: the next command on that
// aggregate decides on the right version. It is counted (unknown_records()).
class AggregateStateFold final : public fold::Fold {
 public:
  // Bump when the stored state for the same events changes. 1: the first versioned layout. 2:
  // the follow-up reminder index (services/interaction/interaction_kind.h).
  static constexpr int64_t kVersion = 2;

  explicit AggregateStateFold(std::vector<const AggregateKind*> kinds) : kinds_(std::move(kinds)) {}
  std::string name() const override { return "command-state"; }
  int64_t version() const override { return kVersion; }
  std::vector<std::string> prefixes() const override { return {""}; }
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;

 private:
  std::vector<const AggregateKind*> kinds_;
};

// A state with its version and the token of its last event.
template <typename StateT>
struct Versioned {
  StateT state;         // default instance if the aggregate has no events
  int64_t version = 0;  // 0: does not exist
  std::string consistency_token;
};

class AggregateState {
 public:
  explicit AggregateState(const kv::KvStore* store) : store_(store) {}

  absl::StatusOr<crm::internal::v1::AggregateRecord> Record(absl::string_view aggregate) const;

  template <typename StateT>
  absl::StatusOr<Versioned<StateT>> Get(absl::string_view aggregate) const {
    absl::StatusOr<crm::internal::v1::AggregateRecord> record = Record(aggregate);
    if (!record.ok()) return record.status();
    Versioned<StateT> out;
    if (!out.state.ParseFromString(record->state())) {
      return absl::InternalError(absl::StrCat("state of ", aggregate, " cannot be decoded"));
    }
    out.version = record->version();
    out.consistency_token = record->consistency_token();
    return out;
  }

  // How many aggregates have names starting with `name_prefix` (e.g. "customers/c1/complaints/":
  // a customer's complaints).
  absl::StatusOr<int64_t> Count(absl::string_view name_prefix) const;

  // The first answer to a request id, if it was seen.
  absl::StatusOr<std::optional<crm::internal::v1::RequestRecord>> Request(
      absl::string_view request_id) const;

  // The store, for kinds' secondary indexes (e.g. the deadline watcher's scan).
  const kv::KvStore* store() const { return store_; }

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::services::command
