// `synwhy probe`'s output: text (first line the verdict, then evidence, then what to run) and JSON.
#pragma once

#include <string>

#include "probe/model.h"

namespace synwhy::probe {

std::string render_text(const ProbeResult& r, const Verdict& v);
std::string render_json(const ProbeResult& r, const Verdict& v);  // one object, one line

}  // namespace synwhy::probe
