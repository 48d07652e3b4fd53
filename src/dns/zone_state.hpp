// pigeon/dns/zone_state.hpp: inside the zone-file resolver (not for other libraries): the
// records a ZoneResolver holds and how it answers from them. The parser (zone_file.cpp) fills
// a State; the resolver (zone_resolver.cpp) asks it.
#pragma once
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dns/zone_resolver.hpp"

namespace pigeon::dns {

namespace zone_detail {

inline int security_rank(Security s) {
    switch (s) {
        case Security::bogus: return 0;
        case Security::indeterminate: return 1;
        case Security::insecure: return 2;
        case Security::secure: return 3;
    }
    return 0;
}

inline Security weakest(Security a, Security b) { return security_rank(a) <= security_rank(b) ? a : b; }

}  // namespace zone_detail

struct ZoneResolver::State {
    mutable std::mutex mutex;
    std::vector<Record> records;                               // input order
    std::map<std::string, std::vector<std::size_t>> by_name;   // owner -> indexes into records
    std::set<std::string> existing;                            // owners and all their ancestors
    std::map<std::string, Security> security;                  // zone suffix -> status
    std::map<std::string, Rcode> name_failures;
    std::map<Question, Rcode> question_failures;
    std::vector<Question> queries;

    void note_exists(const std::string& name) {
        by_name.try_emplace(name);
        std::string_view n = name;
        while (true) {
            existing.emplace(n);
            const auto dot = n.find('.');
            if (dot == std::string_view::npos) break;
            n.remove_prefix(dot + 1);
        }
        existing.emplace("");  // the root
    }

    // Stores a record unless the same name, type and data is already there (RFC 2181 5).
    void add(Record r) {
        note_exists(r.name);
        auto& indexes = by_name[r.name];
        for (auto i : indexes)
            if (records[i].type == r.type && records[i].data == r.data) return;
        indexes.push_back(records.size());
        records.push_back(std::move(r));
    }

    const Record* find_type(const std::string& name, RrType type) const {
        auto it = by_name.find(name);
        if (it == by_name.end()) return nullptr;
        for (auto i : it->second)
            if (records[i].type == type) return &records[i];
        return nullptr;
    }

    Security security_of(std::string_view name) const {
        while (true) {
            auto it = security.find(std::string(name));
            if (it != security.end()) return it->second;
            if (name.empty()) return Security::insecure;
            const auto dot = name.find('.');
            name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
        }
    }

    std::optional<Rcode> failure(const std::string& name, RrType type) const {
        if (auto it = question_failures.find(Question{name, type}); it != question_failures.end())
            return it->second;
        if (auto it = name_failures.find(name); it != name_failures.end()) return it->second;
        return std::nullopt;
    }

    Answer lookup(const Question& asked) {
        const Question q = make_question(asked.name, asked.type);
        queries.push_back(q);

        Answer answer;
        answer.canonical_name = q.name;
        Security security_seen = Security::secure;
        std::string name = q.name;
        for (std::size_t links = 0;; ++links) {
            if (auto f = failure(name, q.type)) {
                answer.rcode = *f;
                answer.security = Security::indeterminate;
                answer.records.clear();
                return answer;
            }
            security_seen = zone_detail::weakest(security_seen, security_of(name));
            answer.canonical_name = name;
            auto node = by_name.find(name);
            if (node == by_name.end()) {
                answer.rcode = existing.count(name) ? Rcode::noerror : Rcode::nxdomain;
                break;
            }
            const Record* cname = nullptr;
            for (auto i : node->second) {
                if (records[i].type == q.type) answer.records.push_back(records[i]);
                if (records[i].type == RrType::cname) cname = &records[i];
            }
            if (!answer.records.empty() || cname == nullptr || q.type == RrType::cname) break;
            if (links == max_cname_chain) {
                answer.rcode = Rcode::servfail;  // a loop, or a chain too long to be sane
                answer.security = security_seen;
                return answer;
            }
            name = std::get<Name>(cname->data).name;
        }
        answer.security = security_seen;
        if (security_seen == Security::bogus) {
            // What a validating resolver does with data that fails validation.
            answer.rcode = Rcode::servfail;
            answer.records.clear();
            answer.why_bogus = "zone marked bogus for testing (pigeon: bogus)";
        }
        return answer;
    }
};

}  // namespace pigeon::dns
