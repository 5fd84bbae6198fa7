// Raw kernel records -> model events. Pure: the kernel's name tables are passed in.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "diagnosis/model.h"
#include "kernel/btf_names.h"
#include "tracer/port_set.h"
#include "tracer/tracer.h"

struct synwhy_event;

namespace synwhy {

struct KernelNames {
    kernel::EnumNames drop_reasons;   // enum skb_drop_reason
    kernel::EnumNames reset_reasons;  // enum sk_rst_reason
    std::function<std::string(uint64_t)> symbolize;  // kernel text address -> "func+0xoff"
};

// Checks a record's size before reading it: a short record (a mismatched kernel object) is refused.
bool decode_event(const void* data, size_t size, const PortSet& ports, const KernelNames& names,
                  int64_t monotonic_to_realtime_ns, Event& out);

// The kernel's exact totals with names: "SYN arrived", "SYN dropped: NETFILTER_DROP", ...
std::vector<KernelTotal> name_kernel_counts(const std::vector<KernelCount>& counts, const KernelNames& names);

}  // namespace synwhy
