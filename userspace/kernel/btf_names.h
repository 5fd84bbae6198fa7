// What the running kernel offers, read from its BTF: which tracepoints exist with which arguments,
// and the names of the drop and reset reasons. Numbers differ between kernels; names don't.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

struct btf;

namespace synwhy::kernel {

// Names of one enum's values, with the common prefix removed (SKB_DROP_REASON_NO_SOCKET -> NO_SOCKET).
using EnumNames = std::map<uint32_t, std::string>;

// The enum called enum_name in btf, or empty when this kernel has no such enum.
EnumNames enum_names(const struct btf* btf, const std::string& enum_name, const std::string& prefix);

// Number of arguments of tracepoint tp (from its btf_trace_<tp> typedef, minus the ctx pointer),
// or nullopt when this kernel has no such tracepoint.
std::optional<int> tracepoint_arg_count(const struct btf* btf, const std::string& tp);

// Drop reason names: the core subsystem from enum skb_drop_reason; others as "SUBSYS<n>:<m>".
// "" on a kernel without the enum (names empty): it gives no reason (diagnosis/drop_fallback.h).
std::string drop_reason_name(const EnumNames& names, uint32_t reason);

}  // namespace synwhy::kernel
