#include "common/metrics/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/base/process_stat.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace crm::metrics {

void Counter::Increment(double by) const { counter_->Increment(by); }
double Counter::Value() const { return counter_->Value(); }
void Gauge::Set(double value) const { gauge_->Set(value); }
double Gauge::Value() const { return gauge_->Value(); }
void Histogram::Observe(double value) const { histogram_->Observe(value); }

Counter CounterFamily::Add(const Labels& labels) const { return Counter(&family_->Add(labels)); }
Gauge GaugeFamily::Add(const Labels& labels) const { return Gauge(&family_->Add(labels)); }
Histogram HistogramFamily::Add(const Labels& labels) const {
  return Histogram(&family_->Add(labels, buckets_));
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::vector<double> SizeBuckets() {
  std::vector<double> out;
  for (double b = 1; b <= 4096; b *= 2) out.push_back(b);
  return out;
}

// The registry's families plus the hooks run before each collection. Shared with the HTTP
// server (as a Collectable), which may outlive nothing: the Registry owns it.
struct Registry::Impl : public prometheus::Collectable {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  // Held while hooks run, so that removing a hook waits for a collection in progress.
  absl::Mutex hooks_mu;
  std::map<int, std::function<void()>> hooks ABSL_GUARDED_BY(hooks_mu);
  int next_id ABSL_GUARDED_BY(hooks_mu) = 1;

  std::vector<prometheus::MetricFamily> Collect() const override {
    {
      absl::MutexLock lock(&const_cast<Impl*>(this)->hooks_mu);
      for (const auto& [id, hook] : hooks) hook();
    }
    return registry->Collect();
  }
};

Registry::Registry() : impl_(std::make_shared<Impl>()) {}
Registry::~Registry() = default;

Registry& Registry::Default() {
  static Registry* registry = [] {
    auto* r = new Registry();
    r->AddProcessMetrics();
    return r;
  }();
  return *registry;
}

CounterFamily Registry::Counters(const std::string& name, const std::string& help) {
  return CounterFamily(
      &prometheus::BuildCounter().Name(name).Help(help).Register(*impl_->registry));
}

GaugeFamily Registry::Gauges(const std::string& name, const std::string& help) {
  return GaugeFamily(&prometheus::BuildGauge().Name(name).Help(help).Register(*impl_->registry));
}

HistogramFamily Registry::Histograms(const std::string& name, const std::string& help,
                                     std::vector<double> buckets) {
  return HistogramFamily(
      &prometheus::BuildHistogram().Name(name).Help(help).Register(*impl_->registry),
      std::move(buckets));
}

Registry::HookHandle::HookHandle(HookHandle&& other) noexcept
    : registry_(other.registry_), id_(other.id_) {
  other.registry_ = nullptr;
}

Registry::HookHandle& Registry::HookHandle::operator=(HookHandle&& other) noexcept {
  if (this != &other) {
    if (registry_ != nullptr) registry_->RemoveHook(id_);
    registry_ = other.registry_;
    id_ = other.id_;
    other.registry_ = nullptr;
  }
  return *this;
}

Registry::HookHandle::~HookHandle() {
  if (registry_ != nullptr) registry_->RemoveHook(id_);
}

Registry::HookHandle Registry::AddCollectHook(std::function<void()> hook) {
  absl::MutexLock lock(&impl_->hooks_mu);
  const int id = impl_->next_id++;
  impl_->hooks.emplace(id, std::move(hook));
  return HookHandle(this, id);
}

void Registry::RemoveHook(int id) {
  absl::MutexLock lock(&impl_->hooks_mu);
  impl_->hooks.erase(id);
}

std::string Registry::Text() { return prometheus::TextSerializer().Serialize(impl_->Collect()); }

namespace {

double OpenFds() {
  double n = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (struct dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++n;
    }
    closedir(dir);
    --n;  // the directory stream's own descriptor
  }
  return n;
}

}  // namespace

void Registry::AddProcessMetrics() {
  // Counters cannot be set, and CPU time is read, not counted: a gauge family named _total would
  // be typed wrong, so process_cpu_seconds_total is kept as a counter advanced to the reading.
  Counter cpu = Counters("process_cpu_seconds_total",
                         "Total user and system CPU time spent in "
                         "seconds.")
                    .Add({});
  Gauge start =
      Gauges("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
          .Add({});
  Gauge resident =
      Gauges("process_resident_memory_bytes", "Resident memory size in bytes.").Add({});
  Gauge virt = Gauges("process_virtual_memory_bytes", "Virtual memory size in bytes.").Add({});
  Gauge fds = Gauges("process_open_fds", "Number of open file descriptors.").Add({});
  Gauge max_fds = Gauges("process_max_fds", "Maximum number of open file descriptors.").Add({});
  // Lives as long as the registry.
  owned_hooks_.push_back(AddCollectHook([=] {
    const base::ProcessStat stat = base::ReadProcessStat();
    if (stat.cpu_seconds > cpu.Value()) cpu.Increment(stat.cpu_seconds - cpu.Value());
    if (stat.start_time.has_value())
      start.Set(absl::ToDoubleSeconds(*stat.start_time - absl::UnixEpoch()));
    resident.Set(stat.resident_bytes);
    virt.Set(stat.virtual_bytes);
    fds.Set(OpenFds());
    struct rlimit limit {};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds.Set(static_cast<double>(limit.rlim_cur));
  }));
}

struct Server::Impl {
  std::unique_ptr<prometheus::Exposer> exposer;
};

Server::Server(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}
Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const std::string& address,
                                                      Registry& registry) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' is not host:port"));
  }
  auto impl = std::make_unique<Impl>();
  try {
    // civetweb takes "host:port"; "0.0.0.0" and "[::]" bind every address.
    impl->exposer = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads", "2"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  impl->exposer->RegisterCollectable(registry.impl_);
  std::vector<int> ports = impl->exposer->GetListeningPorts();
  const int bound = ports.empty() ? port : ports.front();
  return std::unique_ptr<Server>(new Server(std::move(impl), bound));
}

}  // namespace crm::metrics
