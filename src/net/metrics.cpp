// pigeon/net/metrics.cpp: the registry's series slots and the text exposition.
#include "net/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <stdexcept>
#include <thread>

namespace pigeon::net::metrics {

// ---------------------------------------------------------------- Histogram

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
    for (std::size_t i = 1; i < bounds_.size(); ++i)
        if (!(bounds_[i - 1] < bounds_[i]))
            throw std::invalid_argument("histogram bounds must increase");
}

void Histogram::observe(double v) noexcept {
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v: le
    buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.bounds = bounds_;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative.push_back(running);
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

std::vector<double> latency_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
std::vector<double> delay_buckets() {
    return {1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600};
}
std::vector<double> batch_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}; }

// ---------------------------------------------------------------- text pieces

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    for (char c : help) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char buffer[64];
    const auto r = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, r.ptr);
}

namespace {

std::string integer_text(std::uint64_t v) { return std::to_string(v); }

// {a="x",b="y"} for these names and values, with `extra` (le="...") last; "" when empty.
std::string label_text(const std::vector<std::string>& names, const std::vector<std::string>& values,
                       std::string_view extra = {}) {
    if (names.empty() && extra.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        out += names[i] + "=\"" + escape_label_value(i < values.size() ? values[i] : "") + "\"";
    }
    if (!extra.empty()) {
        if (!names.empty()) out += ',';
        out += extra;
    }
    return out + "}";
}

void line(std::string& out, std::string_view name, std::string_view labels, std::string_view value) {
    out.append(name).append(labels).append(" ").append(value).append("\n");
}

bool valid_name(const std::string& name, bool colon_allowed) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                           (colon_allowed && c == ':');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

// Series with the same label values, summed (counters).
template <class M>
std::map<std::vector<std::string>, double> merged_values(
    const std::vector<std::pair<const std::vector<std::string>*, const M*>>& series) {
    std::map<std::vector<std::string>, double> out;
    for (const auto& [values, metric] : series) out[*values] += static_cast<double>(metric->value());
    return out;
}

class Collected final : public FamilyBase {
public:
    Collected(std::string name, std::string help, std::vector<std::string> labels,
              std::function<std::vector<Sample>()> collect)
        : FamilyBase(std::move(name), std::move(help), Type::gauge, std::move(labels)),
          collect_(std::move(collect)) {}
    void write_samples(std::string& out) const override {
        for (const Sample& s : collect_())
            line(out, name(), label_text(label_names(), s.values), format_value(s.value));
    }

private:
    std::function<std::vector<Sample>()> collect_;
};

}  // namespace

// ---------------------------------------------------------------- Family

template <class M>
Family<M>::Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
                  std::size_t max_series, std::function<std::unique_ptr<M>()> make)
    : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
      slots_(std::make_unique<Series[]>(std::max<std::size_t>(max_series, 1))),
      max_series_(std::max<std::size_t>(max_series, 1)),
      make_(std::move(make)),
      overflow_(make_()) {}

template <class M>
bool Family<M>::matches(const Series& s, std::initializer_list<std::string_view> values) const {
    if (s.values.size() != values.size()) return false;
    return std::equal(values.begin(), values.end(), s.values.begin());
}

template <class M>
M& Family<M>::with(std::initializer_list<std::string_view> values) {
    if (values.size() != label_names().size())
        throw std::invalid_argument(name() + ": wrong number of label values");
    for (std::size_t i = 0; i < max_series_; ++i) {
        Series& s = slots_[i];
        int state = s.state.load(std::memory_order_acquire);
        if (state == 0) {
            if (s.state.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
                s.values.assign(values.begin(), values.end());
                s.metric = make_();
                s.state.store(2, std::memory_order_release);
                return *s.metric;
            }
            // Another thread claimed it just now: wait for it to be filled, then compare.
        }
        while ((state = s.state.load(std::memory_order_acquire)) == 1) std::this_thread::yield();
        if (matches(s, values)) return *s.metric;
    }
    return *overflow_;
}

template <class M>
void Family<M>::write_samples(std::string& out) const {
    std::vector<std::pair<const std::vector<std::string>*, const M*>> ready;
    for (std::size_t i = 0; i < max_series_; ++i)
        if (slots_[i].state.load(std::memory_order_acquire) == 2)
            ready.emplace_back(&slots_[i].values, slots_[i].metric.get());
    const std::vector<std::string> other(label_names().size(), "other");
    bool overflowed = ready.size() == max_series_;
    if constexpr (std::is_same_v<M, Histogram>) {
        std::map<std::vector<std::string>, Histogram::Snapshot> merged;
        auto add = [&](const std::vector<std::string>& values, const Histogram& h) {
            Histogram::Snapshot s = h.snapshot();
            auto [it, fresh] = merged.try_emplace(values, s);
            if (fresh) return;
            for (std::size_t b = 0; b < s.cumulative.size(); ++b) it->second.cumulative[b] += s.cumulative[b];
            it->second.sum += s.sum;
        };
        for (const auto& [values, metric] : ready) add(*values, *metric);
        if (overflowed && overflow_->snapshot().count() > 0) add(other, *overflow_);
        for (const auto& [values, s] : merged) {
            for (std::size_t b = 0; b < s.cumulative.size(); ++b) {
                const std::string le =
                    "le=\"" + (b < s.bounds.size() ? format_value(s.bounds[b]) : std::string("+Inf")) + "\"";
                line(out, name() + "_bucket", label_text(label_names(), values, le),
                     integer_text(s.cumulative[b]));
            }
            line(out, name() + "_sum", label_text(label_names(), values), format_value(s.sum));
            line(out, name() + "_count", label_text(label_names(), values), integer_text(s.count()));
        }
    } else {
        if (overflowed && overflow_->value() != 0) ready.emplace_back(&other, overflow_.get());
        for (const auto& [values, v] : merged_values<M>(ready))
            line(out, name(), label_text(label_names(), values), format_value(v));
    }
}

template class Family<Counter>;
template class Family<Histogram>;

// ---------------------------------------------------------------- Registry

void Registry::check_name(const std::string& name, const std::vector<std::string>& labels) const {
    if (!valid_name(name, true)) throw std::invalid_argument("invalid metric name " + name);
    for (const auto& l : labels)
        if (!valid_name(l, false) || l == "le" || l.rfind("__", 0) == 0)
            throw std::invalid_argument(name + ": invalid label name " + l);
    for (const auto& f : families_)
        if (f->name() == name) throw std::invalid_argument("metric " + name + " registered twice");
}

namespace {
template <class M>
Family<M>& keep(std::vector<std::unique_ptr<FamilyBase>>& families, std::unique_ptr<Family<M>> family) {
    auto& ref = *family;
    families.push_back(std::move(family));
    return ref;
}
}  // namespace

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> labels,
                                   std::size_t max_series) {
    check_name(name, labels);
    return keep(families_, std::make_unique<Family<Counter>>(std::move(name), std::move(help), Type::counter,
                                                             std::move(labels), max_series,
                                                             [] { return std::make_unique<Counter>(); }));
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<double> bounds,
                                       std::vector<std::string> labels, std::size_t max_series) {
    check_name(name, labels);
    Histogram{bounds};  // checks the bounds once, here
    return keep(families_, std::make_unique<Family<Histogram>>(
                               std::move(name), std::move(help), Type::histogram, std::move(labels), max_series,
                               [bounds] { return std::make_unique<Histogram>(bounds); }));
}

void Registry::collector(std::string name, std::string help, std::vector<std::string> labels,
                         std::function<std::vector<Sample>()> collect) {
    check_name(name, labels);
    families_.push_back(
        std::make_unique<Collected>(std::move(name), std::move(help), std::move(labels), std::move(collect)));
}

std::string Registry::expose() const {
    std::string out;
    for (const auto& f : families_) {
        const char* type = f->type() == Type::counter ? "counter"
                           : f->type() == Type::gauge ? "gauge"
                                                      : "histogram";
        out += "# HELP " + f->name() + " " + escape_help(f->help()) + "\n";
        out += "# TYPE " + f->name() + " " + type + "\n";
        f->write_samples(out);
    }
    return out;
}

}  // namespace pigeon::net::metrics
