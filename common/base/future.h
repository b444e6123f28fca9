// Future<T> / Promise<T>: a result (absl::StatusOr<T>) that may arrive later, with one
// continuation.
//
// Why: a command waits for the log (a Kafka transaction, the state fold reaching its events). A
// call must not hold a thread while it waits, so the steps after the wait are a continuation that
// runs when the result arrives, on the thread that delivers it. Handlers return Future<Resp>; a
// handler that has its answer at once returns it directly (Future is implicitly constructible
// from a value, a StatusOr or an error Status), so synchronous code (queries, early validation
// errors through CRM_RETURN_IF_ERROR) reads as before.
//
// Rules: a Future is consumed once, by OnReady, Then or Get. Continuations run inline, either in
// OnReady/Then (if the result is already there) or in Promise::Set (on the setter's thread), so
// they must be short and must not block; hand longer work to an executor. A Promise that is
// destroyed without being set delivers INTERNAL ("promise abandoned"), so no continuation is ever
// lost.
//
// Thread-safe: a Promise may be set from any thread while the Future is consumed on another.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace crm::base {

template <typename T>
class Future;
template <typename T>
class Promise;

// The value of a Future that only says "done".
struct Done {};

namespace future_internal {

template <typename T>
struct Shared {
  absl::Mutex mu;
  std::optional<absl::StatusOr<T>> value ABSL_GUARDED_BY(mu);
  absl::AnyInvocable<void(absl::StatusOr<T>)> callback ABSL_GUARDED_BY(mu);

  void Set(absl::StatusOr<T> result) {
    absl::AnyInvocable<void(absl::StatusOr<T>)> run;
    {
      absl::MutexLock lock(&mu);
      if (value.has_value()) return;  // set once
      if (callback) {
        run = std::move(callback);
        callback = nullptr;
        value.emplace(absl::InternalError("future already consumed"));
      } else {
        value.emplace(std::move(result));
        return;
      }
    }
    run(std::move(result));
  }

  void OnReady(absl::AnyInvocable<void(absl::StatusOr<T>)> cb) {
    std::optional<absl::StatusOr<T>> ready;
    {
      absl::MutexLock lock(&mu);
      if (!value.has_value()) {
        callback = std::move(cb);
        return;
      }
      ready = std::move(value);
      value.emplace(absl::InternalError("future already consumed"));
    }
    cb(std::move(*ready));
  }
};

template <typename X>
struct IsFuture : std::false_type {};
template <typename U>
struct IsFuture<Future<U>> : std::true_type {
  using Value = U;
};
}  // namespace future_internal

// What a handler or continuation returning R delivers: U for absl::StatusOr<U> and Future<U>,
// R itself otherwise.
template <typename R>
struct ValueOf {
  using Type = R;
};
template <typename U>
struct ValueOf<absl::StatusOr<U>> {
  using Type = U;
};
template <typename U>
struct ValueOf<Future<U>> {
  using Type = U;
};

template <typename T>
class Future {
 public:
  using Value = T;

  // Ready futures.
  Future(T value)  // NOLINT(google-explicit-constructor): a value is a ready answer
      : ready_(absl::StatusOr<T>(std::move(value))) {}
  Future(absl::StatusOr<T> result)  // NOLINT(google-explicit-constructor)
      : ready_(std::move(result)) {}
  // REQUIRES: !status.ok().
  Future(absl::Status status)  // NOLINT(google-explicit-constructor)
      : ready_(absl::StatusOr<T>(status.ok() ? absl::InternalError("OK status without a value")
                                             : std::move(status))) {}

  Future(Future&&) noexcept = default;
  Future& operator=(Future&&) noexcept = default;
  Future(const Future&) = delete;
  Future& operator=(const Future&) = delete;

  // Runs `cb` with the result: now if it is there, else on the thread that sets it.
  void OnReady(absl::AnyInvocable<void(absl::StatusOr<T>)> cb) && {
    if (ready_.has_value()) {
      absl::StatusOr<T> result = std::move(*ready_);
      ready_.reset();
      cb(std::move(result));
      return;
    }
    std::shared_ptr<future_internal::Shared<T>> shared = std::move(shared_);
    shared->OnReady(std::move(cb));
  }

  // Chains `f` on success; an error skips `f` and is passed on. `f` takes T and returns U,
  // absl::StatusOr<U> or Future<U>; the result is a Future<U>.
  template <typename F>
  auto Then(F f) && {
    using R = std::invoke_result_t<F, T>;
    using U = typename ValueOf<R>::Type;
    Promise<U> promise;
    Future<U> next = promise.future();
    std::move(*this).OnReady(
        [f = std::move(f), promise = std::move(promise)](absl::StatusOr<T> result) mutable {
          if (!result.ok()) {
            promise.Set(result.status());
            return;
          }
          if constexpr (future_internal::IsFuture<R>::value) {
            f(*std::move(result))
                .OnReady([promise = std::move(promise)](absl::StatusOr<U> inner) mutable {
                  promise.Set(std::move(inner));
                });
          } else {
            promise.Set(f(*std::move(result)));
          }
        });
    return next;
  }

  // Blocks until the result is there. For tests and for callers on threads of their own (a
  // background sweep); never on an RPC path.
  absl::StatusOr<T> Get() && {
    absl::Mutex mu;
    std::optional<absl::StatusOr<T>> out;
    std::move(*this).OnReady([&](absl::StatusOr<T> result) {
      absl::MutexLock lock(&mu);
      out.emplace(std::move(result));
    });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::optional<absl::StatusOr<T>>* o) { return o->has_value(); }, &out));
    return std::move(*out);
  }

 private:
  friend class Promise<T>;
  explicit Future(std::shared_ptr<future_internal::Shared<T>> shared)
      : shared_(std::move(shared)) {}

  std::optional<absl::StatusOr<T>> ready_;
  std::shared_ptr<future_internal::Shared<T>> shared_;
};

template <typename T>
class Promise {
 public:
  Promise() : shared_(std::make_shared<future_internal::Shared<T>>()) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& other) noexcept {
    Abandon();
    shared_ = std::move(other.shared_);
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  ~Promise() { Abandon(); }

  // The future of this promise. Call once.
  Future<T> future() { return Future<T>(shared_); }

  // Delivers the result (the first Set wins; later ones are ignored).
  void Set(absl::StatusOr<T> result) {
    if (shared_ == nullptr) return;
    std::shared_ptr<future_internal::Shared<T>> shared = std::move(shared_);
    shared->Set(std::move(result));
  }

 private:
  void Abandon() {
    if (shared_ != nullptr) Set(absl::InternalError("promise abandoned"));
  }
  std::shared_ptr<future_internal::Shared<T>> shared_;
};

}  // namespace crm::base
