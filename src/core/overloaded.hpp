// pigeon/core/overloaded.hpp: the std::visit helper - one lambda per alternative.
//   std::visit(core::overloaded{[](const A&) {...}, [](const B&) {...}}, v);
#pragma once

namespace pigeon::core {

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

}  // namespace pigeon::core
