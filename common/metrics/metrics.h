// Metrics: counters, gauges and histograms in the Prometheus text format, served on a port of
// their own (/metrics). The one wrapper of prometheus-cpp: nothing else includes it.
//
// Why a process-wide registry: every layer (the gRPC glue, the event logs, the folds, the SLA
// watcher) counts what it does without each constructor growing a metrics parameter; a process
// has exactly one /metrics. Tests read Registry::Default().Text() or a registry of their own.
//
// Values that are cheaper to read than to keep (fold lag, RocksDB sizes, process CPU) are set by
// collect hooks, run at every scrape before the values are read.
//
// Naming follows Prometheus conventions: crm_<what>_<unit>[_total]; gRPC call metrics use the
// grpc_server_* names of go-grpc-prometheus so existing dashboards and alerts apply.
//
// Thread-safe: every method may be called from any thread. Counter, Gauge and Histogram are
// handles that stay valid as long as the registry (for Default(): the process).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace crm::metrics {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  explicit Counter(prometheus::Counter* counter = nullptr) : counter_(counter) {}
  void Increment(double by = 1) const;
  double Value() const;

 private:
  prometheus::Counter* counter_;
};

class Gauge {
 public:
  explicit Gauge(prometheus::Gauge* gauge = nullptr) : gauge_(gauge) {}
  void Set(double value) const;
  double Value() const;

 private:
  prometheus::Gauge* gauge_;
};

class Histogram {
 public:
  explicit Histogram(prometheus::Histogram* histogram = nullptr) : histogram_(histogram) {}
  void Observe(double value) const;

 private:
  prometheus::Histogram* histogram_;
};

// A metric name with its help text; each label set is one series. Add() finds or creates the
// series (under the family's lock: keep the handle where a path is hot).
class CounterFamily {
 public:
  explicit CounterFamily(prometheus::Family<prometheus::Counter>* family) : family_(family) {}
  Counter Add(const Labels& labels) const;

 private:
  prometheus::Family<prometheus::Counter>* family_;
};

class GaugeFamily {
 public:
  explicit GaugeFamily(prometheus::Family<prometheus::Gauge>* family) : family_(family) {}
  Gauge Add(const Labels& labels) const;

 private:
  prometheus::Family<prometheus::Gauge>* family_;
};

class HistogramFamily {
 public:
  HistogramFamily(prometheus::Family<prometheus::Histogram>* family, std::vector<double> buckets)
      : family_(family), buckets_(std::move(buckets)) {}
  Histogram Add(const Labels& labels) const;

 private:
  prometheus::Family<prometheus::Histogram>* family_;
  std::vector<double> buckets_;
};

// Bucket bounds for latencies in seconds: 0.5 ms to 30 s.
std::vector<double> LatencyBuckets();
// Bucket bounds for sizes (records per batch): 1 to 4096, powers of two.
std::vector<double> SizeBuckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process's registry, the one /metrics serves.
  static Registry& Default();

  // The family named `name` (created at the first call; later calls return the same family and
  // ignore `help`).
  CounterFamily Counters(const std::string& name, const std::string& help);
  GaugeFamily Gauges(const std::string& name, const std::string& help);
  HistogramFamily Histograms(const std::string& name, const std::string& help,
                             std::vector<double> buckets);

  // Runs `hook` at every collection, before values are read. The hook is removed when the
  // returned handle is destroyed (which waits for a collection in progress): keep the handle no
  // longer than what the hook reads.
  class HookHandle {
   public:
    HookHandle() = default;
    HookHandle(Registry* registry, int id) : registry_(registry), id_(id) {}
    HookHandle(HookHandle&& other) noexcept;
    HookHandle& operator=(HookHandle&& other) noexcept;
    ~HookHandle();

   private:
    Registry* registry_ = nullptr;
    int id_ = 0;
  };
  [[nodiscard]] HookHandle AddCollectHook(std::function<void()> hook);

  // Runs the hooks and returns the exposition text (what /metrics answers).
  std::string Text();

  // The process metrics (process_cpu_seconds_total, process_resident_memory_bytes,
  // process_open_fds, process_max_fds, process_start_time_seconds) from /proc, set at each
  // collection. Default() has them.
  void AddProcessMetrics();

 private:
  friend class Server;
  struct Impl;
  void RemoveHook(int id);
  std::shared_ptr<Impl> impl_;
  std::vector<HookHandle> owned_hooks_;  // hooks the registry added itself (destroyed first)
};

// An HTTP server answering GET /metrics with `registry`'s text (and 404 elsewhere).
class Server {
 public:
  // Listens on `address` ("host:port"; port 0 picks a free one). INVALID_ARGUMENT for a bad
  // address, UNAVAILABLE if it cannot listen.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const std::string& address,
                                                       Registry& registry);
  ~Server();
  int port() const { return port_; }

 private:
  struct Impl;
  Server(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace crm::metrics
