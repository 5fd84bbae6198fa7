// `synwhy watch`: one line per inbound SYN and its fate, as it happens; listeners appearing and
// disappearing; optionally a Prometheus textfile of the counts.
#include <poll.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "cli/session.h"
#include "diagnosis/diagnose.h"
#include "diagnosis/owners/flow_owner.h"
#include "render/journal.h"
#include "render/metrics.h"

namespace synwhy::cli {

namespace {

// Flows `watch` keeps to join late events (a SYN-ACK retransmit, the nft trace) to their SYN.
constexpr size_t max_watch_flows = 8192;  // ~2 KB each: bounded to ~16 MB under a flood
constexpr uint64_t ms = 1000000ULL;

// Events after which a flow's line can be printed. A RST leaving (tx_rst) is not one: a firewall's
// `reject with tcp reset` sends it before the SYN's NF_DROP, which may come in the next batch,
// and the TCP stack's own RST is announced by tcp_send_reset (rst_sent) first. A RST seen alone
// is judged when the flow goes idle (expire).
// Verdicts a later event may still overturn: a handshake seen incomplete completes when a lost
// SYN-ACK is retransmitted, an unanswered SYN is answered late. Their metrics wait for the
// correction or for the flow to stay quiet (provisional_quiet), so counters never go back.
bool provisional(const std::string& verdict) {
    return verdict == cause::handshake_incomplete || verdict == cause::unanswered;
}
constexpr uint64_t provisional_quiet_ms = 10000;

bool decisive(EventKind k) {
    return k == EventKind::established || k == EventKind::drop || k == EventKind::firewall_verdict ||
           k == EventKind::rst_sent || k == EventKind::icmp_sent;
}

// systemd sets JOURNAL_STREAM for StandardOutput=journal: then stdout is the journal itself.
bool stdout_is_journal() {
    struct stat st {};
    return fstat(STDOUT_FILENO, &st) == 0 && is_journal_stream(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}

// A pipe whose reader is gone (`synwhy watch | head -1` after head exits) polls POLLERR on its
// write end: watch ends then, not when it next has a line to write (maybe hours later).
bool stdout_reader_gone() {
    struct pollfd p = {STDOUT_FILENO, 0, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

double unix_seconds() {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return double(ts.tv_sec) + ts.tv_nsec / 1e9;
}

class Watch {
public:
    explicit Watch(Session& s)
        : s_(s), o_(s.options), color_(isatty(STDOUT_FILENO) && !getenv("NO_COLOR")) {
        // Under systemd each line becomes a structured entry; stdout keeps its lines unless it is
        // the journal itself (the same line twice otherwise).
        // With --json the lines are what was asked for: they stay, plain, unless --journal.
        const bool journal_instead_of_stdout = stdout_is_journal() && !o_.json;
        to_journal_ = o_.journal || journal_instead_of_stdout;
        to_stdout_ = !journal_instead_of_stdout;
        // The own namespace's series exist from the start, at 0 (declare_flow_series).
        if (!o_.all_netns)
            for (uint16_t port : o_.ports) declare_flow_series(metrics_, port, s_.own_name);
    }

    int run() {
        // Listeners in the other namespaces, looked up once now: the first refusal's line would
        // otherwise wait for a walk of every process's namespace.
        if (!o_.all_netns) {
            s_.find_foreign_listeners();
            last_foreign_scan_ = Session::monotonic_ns();
        }
        // Which capture: said first when it is not BPF (the JSON lines are events only).
        if (std::string line = capture_line(s_.ctx); !line.empty() && !o_.json) emit(line);
        std::vector<Event> batch;
        while (!stop_requested() && output_ok_) {
            batch.clear();
            if (!s_.collect(std::chrono::milliseconds(100), batch)) break;
            note_ring_buffer_loss();
            handle(batch);
            expire();
            if (to_stdout_ && stdout_reader_gone()) output_ok_ = false;
            // Written 2 s after a change at most, and every minute regardless: the file's timestamp
            // tells an alert that synwhy still runs (synwhy.rules.yml, SynwhyDown).
            const uint64_t since_written = Session::monotonic_ns() - metrics_written_;
            if (!o_.metrics_file.empty() &&
                ((metrics_dirty_ && since_written > 2000 * ms) || since_written > 60000 * ms))
                write_metrics();
            report_detail_lost(false);
        }
        // The stop signal may have interrupted a write blocked on a slow reader (EINTR, the line
        // kept in the buffer): try once more with the last line. A closed output just fails again.
        std::cout.clear();
        // What the kernel saw before the signal still gets its line or correction: a handshake
        // that completed while a slow snapshot held the loop must not end as "incomplete".
        if (output_ok_ && stop_requested()) {
            batch.clear();
            if (s_.collect(std::chrono::milliseconds(0), batch)) handle(batch);
        }
        report_detail_lost(true);
        for (const auto& [key, verdict] : verdict_printed_) count_in_metrics(key, verdict);
        if (!o_.metrics_file.empty()) {
            metrics_.up = false;
            write_metrics();
        }
        return exit_ok;
    }

private:
    const HostSnapshot* host_of(uint32_t netns) const { return host_for(s_.ctx.hosts, netns); }

    std::string label_of(uint32_t netns) const {
        if (!o_.all_netns) return "";
        const HostSnapshot* h = host_of(netns);
        return h && !h->netns_name.empty() ? h->netns_name : fmt::format("netns:{}", netns);
    }

    // One line on stdout; a closed or failing stdout (`watch | head`) ends the watch.
    void emit(const std::string& line) {
        if (!to_stdout_) return;
        std::cout << line << std::endl;
        if (!std::cout) output_ok_ = false;
    }

    // One journal entry. Should journald refuse it, say so once and go on with the lines on stdout.
    void journal(const JournalEntry& entry) {
        if (!to_journal_) return;
        std::string error;
        if (send_journal_entry(entry, error)) return;
        std::cerr << "synwhy: " << error << "; the lines go to stdout from now on\n";
        to_journal_ = false;
        to_stdout_ = true;
    }

    void print(const FlowEvidence& f) {
        const uint32_t already = printed_[f.key];
        printed_[f.key] = f.syns;
        const HostSnapshot* host = host_of(f.key.netns);
        // Passing through to another host: not ours to judge. When the kernel knows the namespace's
        // addresses it counted those apart already, by addresses it follows as they change (the
        // snapshot here may predate one); else (--all-netns) the snapshot tells.
        if (!s_.kernel_tells_forwarded() && !addressed_here(f, host)) {
            forwarded_by_address_ += f.syns - already;  // a flow comes here again per retransmitted SYN
            return;
        }
        Flow flow = classify(f, host, o_.ports);
        // No fate seen, while the ring buffer was losing events: its answer may be among them.
        // Not judged "unanswered" (a wrong verdict); the detail-lost line counts it.
        if (flow.verdict == cause::unanswered && last_loss_ns_ && f.first_ns <= last_loss_ns_) return;
        if (flow.verdict == cause::no_listener && !o_.all_netns &&
            Session::monotonic_ns() - last_foreign_scan_ > 5000 * ms) {
            s_.find_foreign_listeners();
            last_foreign_scan_ = Session::monotonic_ns();
            flow = classify(f, host_of(f.key.netns), o_.ports);
        }
        std::string label = label_of(f.key.netns);
        const std::string netns_name = label.empty() ? s_.own_name : label;
        declare_flow_series(metrics_, f.key.dport, netns_name);
        // A flow gets a line again for each retransmitted SYN: count only the SYNs new since its last.
        Uncounted& pending = uncounted_[f.key];
        pending.syns += f.syns - already;
        pending.netns_name = netns_name;
        syns_with_line_ += f.syns - already;
        // A line for new SYNs of a flow whose verdict changed since its last line corrects it too.
        std::string previous;
        if (auto it = verdict_printed_.find(f.key); it != verdict_printed_.end() && it->second != flow.verdict)
            previous = it->second;
        verdict_printed_[f.key] = flow.verdict;
        if (!provisional(flow.verdict)) count_in_metrics(f.key, flow.verdict);
        write_line(flow, f.key, label, previous.empty() ? nullptr : &previous);
    }

    // A flow whose line is out, told again when a later event changes its verdict (the SYN-ACK
    // that was lost came again and the handshake completed): JSON "event": "update".
    void correct(const FlowEvidence& f) {
        auto printed = verdict_printed_.find(f.key);
        if (printed == verdict_printed_.end()) return;
        Flow flow = classify(f, host_of(f.key.netns), o_.ports);
        if (flow.verdict == printed->second) return;
        const std::string previous = printed->second;
        printed->second = flow.verdict;
        if (!provisional(flow.verdict)) count_in_metrics(f.key, flow.verdict);
        write_line(flow, f.key, label_of(f.key.netns), &previous);
    }

    void write_line(const Flow& flow, const FlowKey& key, const std::string& label, const std::string* previous) {
        std::string line = watch_line(flow, label, color_);
        if (previous) line += fmt::format(" (update: was {})", *previous);
        if (to_journal_) {
            const std::string netns_name = label.empty() ? s_.own_name : label;
            std::string plain = watch_line(flow, label, false);
            if (previous) plain += fmt::format(" (update: was {})", *previous);
            journal(flow_journal_entry(flow, plain, netns_name, flow_owner(flow, host_of(key.netns))));
        }
        if (o_.json) {
            auto j = flow_json(flow);
            if (o_.all_netns) j["netns_name"] = label;
            if (previous) {
                j["event"] = "update";
                j["previous_verdict"] = *previous;
            }
            emit(json_text(j));
        } else {
            emit(line);
        }
    }

    // The flow's SYNs not yet in the metrics go there under `verdict`.
    void count_in_metrics(const FlowKey& key, const std::string& verdict) {
        auto it = uncounted_.find(key);
        if (it == uncounted_.end() || it->second.syns == 0) return;
        metrics_.syns[{key.dport, verdict, it->second.netns_name}] += it->second.syns;
        it->second.syns = 0;
        metrics_dirty_ = true;
    }

    // A provisional verdict that no event changed for a while (or at the end) is the verdict.
    void settle_provisional(const FlowKey& key) {
        auto printed = verdict_printed_.find(key);
        if (printed != verdict_printed_.end()) count_in_metrics(key, printed->second);
    }

    void handle(const std::vector<Event>& batch) {
        // Fold the whole batch first: a trace message naming the rule comes in the same batch as
        // the drop it explains, and the line should carry both.
        std::vector<FlowKey> decided;
        std::set<uint32_t> failing_netns;
        for (const Event& e : batch) {
            if (e.kind == EventKind::process_exit) {
                if (exits_.size() > 1024) exits_.clear();  // bounded: only recent exits matter
                exits_[e.pid] = e;
                continue;
            }
            if (e.kind == EventKind::listen_change) {
                last_snapshot_ = 0;  // the listeners changed: the next verdict takes a new snapshot
                auto ex = exits_.find(e.pid);
                const Event* exit = ex != exits_.end() ? &ex->second : nullptr;
                std::string line = lifecycle_line(e, exit, o_.all_netns ? fmt::format("netns:{}", e.netns) : "");
                const bool started = e.new_state == 10;  // TCP_LISTEN
                if (to_journal_) journal(listener_journal_entry(e, started, line));
                emit(o_.json ? json_text(lifecycle_json(e, exit)) : line);
                continue;
            }
            FlowEvidence* flow = fold_event(flows_, e);
            if (!flow || !decisive(e.kind)) continue;
            decided.push_back(flow->key);
            if (e.kind != EventKind::established) failing_netns.insert(flow->key.netns);
        }
        if (!failing_netns.empty()) refresh_snapshots(failing_netns);
        firewall::LegacyReadings legacy;
        bool legacy_read = false;
        for (const FlowKey& key : decided) {
            auto it = flows_.find(key);
            if (it == flows_.end()) continue;
            FlowEvidence& f = it->second;
            auto already = printed_.find(key);  // no entry made: an orphan flow may be erased (adopted)
            const bool new_syns = f.syns > (already != printed_.end() ? already->second : 0);
            if (!new_syns && !verdict_printed_.count(key)) continue;
            if (s_.legacy_present() && f.inbound_drop && !f.inbound_rule && !legacy_read) {
                legacy = s_.legacy_readings_since_last();
                legacy_read = true;
            }
            attach_legacy_rule(f, legacy, host_of(f.key.netns));
            if (new_syns)
                print(f);
            else
                correct(f);
        }
    }

    // The verdict needs the host as it is now (at most once a second; the other namespaces'
    // listeners are refreshed on their own schedule).
    void refresh_snapshots(const std::set<uint32_t>& netns) {
        bool unknown = o_.all_netns && std::any_of(netns.begin(), netns.end(), [&](uint32_t n) {
                           return host_of(n) == nullptr;
                       });
        if (!unknown && Session::monotonic_ns() - last_snapshot_ < 1000 * ms) return;
        auto foreign = s_.ctx.hosts.empty() ? std::vector<ForeignListener>{} : s_.ctx.hosts.front().other_netns_listeners;
        for (const auto& h : s_.ctx.hosts) seen_netns_.insert(h.netns);
        seen_netns_.insert(netns.begin(), netns.end());
        if (seen_netns_.size() > 1024) seen_netns_ = netns;
        s_.ctx.hosts = s_.take_snapshots(seen_netns_);
        if (!s_.ctx.hosts.empty()) s_.ctx.hosts.front().other_netns_listeners = std::move(foreign);
        last_snapshot_ = Session::monotonic_ns();
    }

    // SYNs with no fate after a while get their line, once. Memory stays bounded: idle flows are
    // forgotten after 2 minutes, and when a flood crowds the table, every flow whose SYNs all have
    // their line is forgotten at once.
    void expire() {
        uint64_t now = s_.event_clock_ns();
        const bool crowded = flows_.size() > max_watch_flows;
        for (auto it = flows_.begin(); it != flows_.end() && output_ok_;) {
            FlowEvidence& f = it->second;
            uint64_t idle = now > f.last_ns ? now - f.last_ns : 0;
            if (f.syns > printed_[f.key] && idle > 1500 * ms) print(f);
            bool done = f.syns <= printed_[f.key];
            if (idle > provisional_quiet_ms * ms) settle_provisional(f.key);
            if (idle > 120000 * ms || (crowded && done)) {
                settle_provisional(f.key);
                printed_.erase(it->first);
                verdict_printed_.erase(it->first);
                uncounted_.erase(it->first);
                it = flows_.erase(it);
            } else {
                ++it;
            }
        }
    }

    // Under a flood the lines are a sample: the kernel details a bounded rate of events and drops
    // what a full ring buffer cannot take, while it still counts every SYN exactly. Never silent:
    // a line says so, at most every 5 s while it goes on and once more when watch ends, with the
    // kernel's totals.
    void report_detail_lost(bool final) {
        TracerStats st = s_.stats();
        const bool unchanged = st.rate_limited == lost_told_.rate_limited && st.ringbuf_full == lost_told_.ringbuf_full;
        // The final line closes any loss told before, even when nothing was lost since: a reader
        // takes its totals from the line marked final.
        const bool close_told_loss = final && lost_told_at_ != 0;
        if (unchanged && !close_told_loss) return;
        const uint64_t now = Session::monotonic_ns();
        if (!final && lost_told_at_ && now - lost_told_at_ < 5000 * ms) return;
        lost_told_ = st;
        lost_told_at_ = now;
        std::string line = fmt::format("{}  detail lost: {} kernel events over the detail rate bound, {} lost (ring "
                                       "buffer full); the kernel counted {} SYN{}, {} of them have a line",
                                       format_time(s_.event_clock_ns()), st.rate_limited, st.ringbuf_full,
                                       st.syns_seen, st.syns_seen == 1 ? "" : "s", syns_with_line_);
        // The journal first: should it fail, stdout takes the line (journal() turns it back on).
        if (to_journal_) journal(event_journal_entry("detail-lost", line, LOG_WARNING));
        emit(o_.json ? json_text(detail_lost_json(st, final)) : line);
    }

    // When the ring buffer last lost events (event clock), for flows whose fate may be among them.
    void note_ring_buffer_loss() {
        const uint64_t lost = s_.stats().ringbuf_full;
        if (lost == ring_lost_seen_) return;
        ring_lost_seen_ = lost;
        last_loss_ns_ = s_.event_clock_ns();
    }

    nlohmann::json detail_lost_json(const TracerStats& st, bool final) {
        nlohmann::json counts = nlohmann::json::array();
        for (const auto& t : s_.kernel_totals())
            counts.push_back({{"netns", t.netns}, {"port", t.port}, {"what", t.what}, {"count", t.count}});
        return {{"event", "detail-lost"},
                {"ts", format_time(s_.event_clock_ns())},
                {"final", final},
                {"syns_seen", st.syns_seen},
                {"syns_forwarded", st.syns_forwarded + forwarded_by_address_},
                {"syns_with_line", syns_with_line_},
                {"events_rate_limited", st.rate_limited},
                {"events_lost", st.ringbuf_full},
                {"kernel_counts", counts}};
    }

    bool write_metrics() {
        TracerStats st = s_.stats();
        metrics_.syns_seen_kernel = st.syns_seen;
        // A counter never goes back: a SYN read as passing through just before the DNAT showed it
        // to be this namespace's own (microseconds) stays counted so.
        metrics_.syns_forwarded = std::max(metrics_.syns_forwarded, st.syns_forwarded + forwarded_by_address_);
        metrics_.events_lost = st.ringbuf_full;
        metrics_.events_rate_limited = st.rate_limited;
        metrics_.updated_unix_seconds = unix_seconds();
        std::string error;
        metrics_written_ = Session::monotonic_ns();
        metrics_dirty_ = false;
        if (replace_file_atomically(o_.metrics_file, prometheus_text(metrics_), error)) return true;
        std::cerr << "synwhy: --metrics-file: " << error << "\n";
        return false;
    }

    Session& s_;
    const CaptureOptions& o_;
    const bool color_;  // on a TTY, and only without NO_COLOR
    std::map<FlowKey, FlowEvidence> flows_;
    std::map<FlowKey, uint32_t> printed_;  // SYNs already given a line, per flow
    std::map<FlowKey, std::string> verdict_printed_;  // the verdict its last line gave
    struct Uncounted {
        uint32_t syns = 0;  // SYNs with a line, not yet in the metrics (a provisional verdict)
        std::string netns_name;
    };
    std::map<FlowKey, Uncounted> uncounted_;
    std::map<uint32_t, Event> exits_;      // pid -> its exit, for the listen-stop lines that follow
    std::set<uint32_t> seen_netns_;
    uint64_t last_snapshot_ = Session::monotonic_ns();
    uint64_t last_foreign_scan_ = 0;
    bool output_ok_ = true;
    uint64_t ring_lost_seen_ = 0;  // the kernel's ring-buffer-full count at the last look
    uint64_t last_loss_ns_ = 0;    // when it last grew (event clock), 0: never
    bool to_journal_ = false;  // each line also a structured journal entry
    bool to_stdout_ = true;    // false when stdout is the journal: the entries say it all
    uint64_t syns_with_line_ = 0;  // SYNs the lines so far were about
    // Forwarded SYNs the kernel sent up (--all-netns: it does not tell them there), told apart
    // by the snapshots' addresses; the kernel's own count of them is added in the metrics.
    uint64_t forwarded_by_address_ = 0;
    TracerStats lost_told_;        // the loss counters as the last detail-lost line gave them
    uint64_t lost_told_at_ = 0;
    WatchMetrics metrics_;
    bool metrics_dirty_ = false;
    uint64_t metrics_written_ = 0;
};

}  // namespace

int run_watch(Session& session) { return Watch(session).run(); }

}  // namespace synwhy::cli
