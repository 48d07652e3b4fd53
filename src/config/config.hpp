// pigeon/config/config.hpp: the whole configuration layer in one include: the model and its
// defaults, the TOML reader, the validation rules, the writer, and the session options.
#pragma once
#include "config/model.hpp"
#include "config/reader.hpp"
#include "config/reload.hpp"
#include "config/session.hpp"
#include "config/validate.hpp"
#include "config/writer.hpp"
