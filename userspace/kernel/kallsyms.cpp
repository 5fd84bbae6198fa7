#include "kernel/kallsyms.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

namespace synwhy::kernel {

Kallsyms Kallsyms::parse(const std::string& text) {
    Kallsyms k;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream l(line);
        std::string addr_s, type, name;
        if (!(l >> addr_s >> type >> name)) continue;
        if (type != "T" && type != "t") continue;
        uint64_t addr = std::strtoull(addr_s.c_str(), nullptr, 16);
        if (addr == 0) continue;  // kptr_restrict hides addresses: nothing to resolve with
        k.symbols_.push_back({addr, name});
    }
    std::sort(k.symbols_.begin(), k.symbols_.end(),
              [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; });
    return k;
}

std::string Kallsyms::symbolize_from_proc(uint64_t addr) {
    FILE* f = fopen("/proc/kallsyms", "re");
    if (!f) return fmt::format("{:#x}", addr);
    char line[512];
    uint64_t best = 0;
    std::string name;
    while (fgets(line, sizeof line, f)) {
        char* end = nullptr;
        uint64_t a = std::strtoull(line, &end, 16);
        if (a == 0 || a > addr || a < best || !end || end[0] != ' ' || (end[1] != 'T' && end[1] != 't')) continue;
        const char* n = end + 3;
        size_t len = std::strcspn(n, " \t\n");
        best = a;
        name.assign(n, len);
    }
    fclose(f);
    if (name.empty()) return fmt::format("{:#x}", addr);
    return fmt::format("{}+{:#x}", name, addr - best);
}

std::string Kallsyms::symbolize(uint64_t addr) const {
    auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                               [](uint64_t a, const Symbol& s) { return a < s.addr; });
    if (it == symbols_.begin()) return fmt::format("{:#x}", addr);
    --it;
    return fmt::format("{}+{:#x}", it->name, addr - it->addr);
}

}  // namespace synwhy::kernel
