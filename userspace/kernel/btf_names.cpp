#include "kernel/btf_names.h"

#include <bpf/btf.h>

#include <fmt/format.h>

namespace synwhy::kernel {

EnumNames enum_names(const struct btf* btf, const std::string& enum_name, const std::string& prefix) {
    EnumNames out;
    if (!btf) return out;
    int id = btf__find_by_name_kind(btf, enum_name.c_str(), BTF_KIND_ENUM);
    if (id < 0) return out;
    const struct btf_type* t = btf__type_by_id(btf, id);
    const struct btf_enum* e = btf_enum(t);
    for (int i = 0; i < btf_vlen(t); i++) {
        std::string name = btf__name_by_offset(btf, e[i].name_off);
        if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
        out.emplace(static_cast<uint32_t>(e[i].val), name);
    }
    return out;
}

std::optional<int> tracepoint_arg_count(const struct btf* btf, const std::string& tp) {
    if (!btf) return std::nullopt;
    int id = btf__find_by_name_kind(btf, ("btf_trace_" + tp).c_str(), BTF_KIND_TYPEDEF);
    if (id < 0) return std::nullopt;
    const struct btf_type* t = btf__type_by_id(btf, id);
    t = btf__type_by_id(btf, t->type);  // PTR
    if (!t || !btf_is_ptr(t)) return std::nullopt;
    t = btf__type_by_id(btf, t->type);  // FUNC_PROTO
    if (!t || !btf_is_func_proto(t)) return std::nullopt;
    return btf_vlen(t) - 1;  // the first parameter is the tracepoint's void *__data
}

std::string drop_reason_name(const EnumNames& names, uint32_t reason) {
    if (names.empty()) return "";  // no enum skb_drop_reason (before 5.17): kfree_skb gave none
    // Since 6.4 the top 16 bits name a subsystem (SKB_DROP_REASON_SUBSYS_SHIFT); 0 is the core.
    uint32_t subsys = reason >> 16;
    if (subsys == 0) {
        if (auto it = names.find(reason); it != names.end()) return it->second;
        return fmt::format("REASON_{}", reason);
    }
    return fmt::format("SUBSYS{}:{}", subsys, reason & 0xffff);
}

}  // namespace synwhy::kernel
