// pigeon/net/metrics.hpp: a small metrics registry and its Prometheus text exposition
// (format 0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Contract:
//   - Counter and Histogram are updated with relaxed atomics: no lock, no allocation,
//     safe from any thread. A histogram's buckets are fixed when it is made; its _count is the
//     sum of its buckets, so _count always equals the +Inf bucket even mid-update.
//   - A family is one metric name with fixed label NAMES. Its series (one per set of label
//     values) are made on first use by with(): a lock-free scan of at most max_series slots,
//     a compare-and-swap claims a free one. Callers on hot paths call with() once and keep the
//     reference. When every slot is taken, with() returns one shared overflow series whose
//     label values are all "other": the number of series, and so the memory and the scrape,
//     is bounded whatever values callers pass.
//   - Gauges are collectors, computed at scrape time (e.g. the queue by state); they run on the
//     scraping thread and must be quick and thread-safe.
//   - expose() writes every family in registration order: one # HELP and one # TYPE line each,
//     then its samples; label values are escaped (backslash, double quote, line feed), and so
//     is HELP text (backslash, line feed). Two series that got the same label values (two
//     threads making one at the same moment) are summed into one sample.
//   - The registry has no global instance: whoever owns it (app::ServerMetrics) hands
//     references to the code that counts. Deterministic layers never see it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pigeon::net::metrics {

class Counter {
public:
    void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

class Histogram {
public:
    // bounds: the buckets' upper bounds (le), strictly increasing; +Inf is implicit.
    explicit Histogram(std::vector<double> bounds);
    void observe(double v) noexcept;

    struct Snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
        double sum = 0;
        std::uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
    };
    Snapshot snapshot() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
    std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds: 1 ms .. 10 s; for delivery delays: 1 s .. 5 days;
// for batch sizes: 1 .. 1024.
std::vector<double> latency_buckets();
std::vector<double> delay_buckets();
std::vector<double> batch_buckets();

enum class Type { counter, gauge, histogram };

namespace detail {
struct SeriesBase {
    std::atomic<int> state{0};  // 0 free, 1 being filled, 2 ready
    std::vector<std::string> values;
};
}  // namespace detail

// The part of a family expose() needs; Family<M> below is what callers use.
class FamilyBase {
public:
    FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
        : name_(std::move(name)), help_(std::move(help)), type_(type), labels_(std::move(label_names)) {}
    virtual ~FamilyBase() = default;
    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    Type type() const { return type_; }
    const std::vector<std::string>& label_names() const { return labels_; }
    virtual void write_samples(std::string& out) const = 0;

private:
    std::string name_, help_;
    Type type_;
    std::vector<std::string> labels_;
};

template <class M>
class Family final : public FamilyBase {
public:
    // make: builds one series' metric (a Histogram needs its bounds).
    Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
           std::size_t max_series, std::function<std::unique_ptr<M>()> make);

    // The series with these label values (as many as label names), made on first use.
    M& with(std::initializer_list<std::string_view> values);
    M& only() { return with({}); }  // a family without labels
    void write_samples(std::string& out) const override;

private:
    struct Series : detail::SeriesBase {
        std::unique_ptr<M> metric;
    };
    bool matches(const Series& s, std::initializer_list<std::string_view> values) const;

    std::unique_ptr<Series[]> slots_;
    std::size_t max_series_;
    std::function<std::unique_ptr<M>()> make_;
    std::unique_ptr<M> overflow_;
};

// One scrape-time gauge sample: label values (as many as the collector's label names) and value.
struct Sample {
    std::vector<std::string> values;
    double value = 0;
};

class Registry {
public:
    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total. Registering
    // happens at start, before any thread counts; a name used twice or an invalid name is a
    // programming error (std::invalid_argument).
    Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {},
                             std::size_t max_series = 64);
    Family<Histogram>& histogram(std::string name, std::string help, std::vector<double> bounds,
                                 std::vector<std::string> labels = {}, std::size_t max_series = 16);
    void collector(std::string name, std::string help, std::vector<std::string> labels,
                   std::function<std::vector<Sample>()> collect);

    std::string expose() const;

private:
    void check_name(const std::string& name, const std::vector<std::string>& labels) const;
    std::vector<std::unique_ptr<FamilyBase>> families_;
};

// Exposition text pieces (exposed for tests).
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
std::string format_value(double value);  // shortest round-trip form; +Inf, -Inf, NaN

}  // namespace pigeon::net::metrics
