// pigeon/dns/drive.hpp: running a restartable, sans-I/O evaluation (SPF's check_host, DKIM's
// key lookups, DMARC's policy discovery) over a Resolver. Written once, used by all three.
//
// Contract: `Evaluation` has `std::variant<dns::Question, Result> run(const AnswerCache&) const`.
// drive() calls run(); every Question it returns is resolved, its Answer cached, and run() is
// called again, until a Result comes out; `done` gets it exactly once. A resolver that answers
// inside resolve() (a zone file) continues the loop instead of recursing, so the stack never
// grows; one that answers later (libunbound, from its thread) resumes the loop there. More than
// `max_rounds` questions (only a resolver that never stores what was asked gets that far) end
// with give_up(max_rounds).
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <variant>

#include "dns/dns.hpp"

namespace pigeon::dns {

template <class Evaluation, class Result>
void drive(Resolver& resolver, Evaluation evaluation, std::size_t max_rounds,
           std::function<Result(std::size_t max_rounds)> give_up, std::function<void(Result)> done) {
    // Shared by the resolver callbacks; lives until `done` has been called.
    struct State : std::enable_shared_from_this<State> {
        State(Resolver& r, Evaluation e, std::size_t max, std::function<Result(std::size_t)> g,
              std::function<void(Result)> d)
            : resolver(r), evaluation(std::move(e)), max_rounds(max), give_up(std::move(g)),
              done(std::move(d)) {}

        void step() {
            while (true) {
                auto next = evaluation.run(cache);
                if (auto* result = std::get_if<Result>(&next)) {
                    done(std::move(*result));
                    return;
                }
                if (++rounds > max_rounds) {
                    done(give_up(max_rounds));
                    return;
                }
                Question question = std::get<Question>(std::move(next));
                in_resolve = true;
                answered_inline = false;
                auto self = this->shared_from_this();
                resolver.resolve(question, [self, question](Answer answer) {
                    self->cache.put(question, std::move(answer));
                    if (self->in_resolve) {  // answered inside resolve(): the loop goes on
                        self->answered_inline = true;
                        return;
                    }
                    self->step();
                });
                in_resolve = false;
                if (!answered_inline) return;  // resumed by the callback later
            }
        }

        Resolver& resolver;
        Evaluation evaluation;
        std::size_t max_rounds;
        std::function<Result(std::size_t)> give_up;
        std::function<void(Result)> done;
        AnswerCache cache;
        std::size_t rounds = 0;
        bool in_resolve = false;
        bool answered_inline = false;
    };
    std::make_shared<State>(resolver, std::move(evaluation), max_rounds, std::move(give_up),
                            std::move(done))
        ->step();
}

}  // namespace pigeon::dns
