// The events' clock. The kernel stamps its events with bpf_ktime_get_ns() (CLOCK_MONOTONIC); nft
// trace messages carry no time, so their verdicts are stamped when they are read. Both are put on
// one clock: CLOCK_MONOTONIC plus the wall clock's offset read once at start. A wall-clock step
// (NTP) after start then moves neither, and events of one packet stay ordered and joinable.
#pragma once

#include <cstdint>
#include <ctime>

namespace synwhy::firewall {

// A CLOCK_MONOTONIC time on the events' clock (wall time as it was at start, plus the elapsed time).
constexpr uint64_t event_time_ns(uint64_t monotonic_ns, int64_t monotonic_to_realtime_ns) {
    return monotonic_ns + static_cast<uint64_t>(monotonic_to_realtime_ns);
}

inline uint64_t monotonic_now_ns() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

// CLOCK_REALTIME minus CLOCK_MONOTONIC now: read once per capture, it fixes the events' clock.
inline int64_t realtime_minus_monotonic_ns() {
    struct timespec rt {}, mono {};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (int64_t(rt.tv_sec) - mono.tv_sec) * 1000000000LL + (int64_t(rt.tv_nsec) - mono.tv_nsec);
}

}  // namespace synwhy::firewall
