// Kernel text addresses to "function+0xoff", from /proc/kallsyms (root sees real addresses).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace synwhy::kernel {

class Kallsyms {
public:
    // Parses kallsyms text ("ffffffff81000000 T _stext"); only text symbols are kept.
    static Kallsyms parse(const std::string& text);

    std::string symbolize(uint64_t addr) const;  // "nft_do_chain+0x2c4", or "0x..." when unknown
    bool empty() const { return symbols_.empty(); }

    // One address, by streaming /proc/kallsyms (nothing kept: the table is ~10 MB in memory, and
    // a capture needs the names of a handful of drop locations, cached by the caller).
    static std::string symbolize_from_proc(uint64_t addr);

private:
    struct Symbol {
        uint64_t addr;
        std::string name;
    };
    std::vector<Symbol> symbols_;  // sorted by address
};

}  // namespace synwhy::kernel
