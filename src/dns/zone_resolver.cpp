// ZoneResolver: synchronous answers from the records of a zone file (see the header; the
// parser is zone_file.cpp, the records and the lookup zone_state.hpp).
#include "dns/zone_resolver.hpp"

#include <utility>

#include "dns/zone_state.hpp"

namespace pigeon::dns {

ZoneResolver::ZoneResolver() : state_(std::make_unique<State>()) {}
ZoneResolver::ZoneResolver(ZoneResolver&&) noexcept = default;
ZoneResolver& ZoneResolver::operator=(ZoneResolver&&) noexcept = default;
ZoneResolver::~ZoneResolver() = default;

void ZoneResolver::resolve(const Question& question, std::function<void(Answer)> done) {
    done(lookup(question));  // outside the lock: `done` may ask again
}

Answer ZoneResolver::lookup(const Question& question) {
    std::lock_guard lock(state_->mutex);
    return state_->lookup(question);
}

void ZoneResolver::add(Record record) {
    record.name = make_question(record.name, record.type).name;
    std::lock_guard lock(state_->mutex);
    state_->add(std::move(record));
}

void ZoneResolver::set_security(std::string_view zone_suffix, Security security) {
    std::lock_guard lock(state_->mutex);
    state_->security[make_question(zone_suffix, RrType::a).name] = security;
}

void ZoneResolver::fail(std::string_view name, Rcode rcode) {
    const std::string n = make_question(name, RrType::a).name;
    std::lock_guard lock(state_->mutex);
    if (rcode == Rcode::noerror) state_->name_failures.erase(n);
    else state_->name_failures[n] = rcode;
}

void ZoneResolver::fail(const Question& question, Rcode rcode) {
    const Question q = make_question(question.name, question.type);
    std::lock_guard lock(state_->mutex);
    if (rcode == Rcode::noerror) state_->question_failures.erase(q);
    else state_->question_failures[q] = rcode;
}

std::vector<Question> ZoneResolver::queries() const {
    std::lock_guard lock(state_->mutex);
    return state_->queries;
}

void ZoneResolver::clear_queries() {
    std::lock_guard lock(state_->mutex);
    state_->queries.clear();
}

std::vector<Record> ZoneResolver::records() const {
    std::lock_guard lock(state_->mutex);
    return state_->records;
}
}  // namespace pigeon::dns
