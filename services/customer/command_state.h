// The command side's state: what the customer commands validate against, as a fold of the log.
//
//   s/<id>             -> crm.v1.CustomerCommandResponse: the customer after its last event, with
//                         the consistency token of that event
//   e\0<email>         -> id of the customer holding the (normalized) e-mail
//   r\0<request_id>    -> crm.v1.CustomerCommandResponse: the answer of that request (AIP-155)
//
// Because it is a fold (CommandStateFold, run by a fold::FoldRunner with its position in the same
// batch), it is consistent with the log after any crash and survives restarts; a retried
// request_id finds its first answer even after one.
// Thread-safe: CommandState reads a thread-safe store; the fold runs on the runner's thread.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/fold/fold_runner.h"
#include "common/kv/kv_store.h"
#include "crm/v1/customer_service.pb.h"

namespace crm::services::customer {

class CommandStateFold final : public fold::Fold {
 public:
  absl::Status Apply(const eventlog::LogRecord& record, kv::KvBatch& batch) override;
};

class CommandState {
 public:
  explicit CommandState(const kv::KvStore* store) : store_(store) {}

  // The customer's state (version 0 customer if unknown) and the token of its last event.
  absl::StatusOr<crm::v1::CustomerCommandResponse> Customer(absl::string_view id) const;
  // The id of the customer holding a normalized e-mail.
  absl::StatusOr<std::optional<std::string>> EmailOwner(absl::string_view email) const;
  // The first answer to a request id.
  absl::StatusOr<std::optional<crm::v1::CustomerCommandResponse>> Request(
      absl::string_view request_id) const;

 private:
  const kv::KvStore* const store_;
};

}  // namespace crm::services::customer
