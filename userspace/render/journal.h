// watch under systemd: one structured journal entry per flow, with SYNWHY_* fields an operator can
// filter on (`journalctl -u synwhy-watch SYNWHY_VERDICT=firewall-drop`) and the text line as MESSAGE.
#pragma once

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "diagnosis/model.h"

namespace synwhy {

struct JournalEntry {
    std::vector<std::pair<std::string, std::string>> fields;  // MESSAGE, PRIORITY, SYNWHY_*, ...
    const std::string* find(const std::string& name) const;
};

// syslog priority of a flow's verdict: accepted is info; a flow still open or whose handshake did
// not finish is a notice; a refusal or a drop a warning; sshd failing every start an error.
int journal_priority(const std::string& verdict);

// The entry for one flow. message: the same human line watch prints; owner: flow_owner's word.
JournalEntry flow_journal_entry(const Flow& flow, const std::string& message, const std::string& netns_name,
                                const std::string& owner);

// The entry for a line that is not a flow (a listener starting or stopping, detail lost).
JournalEntry event_journal_entry(const std::string& event, const std::string& message, int priority);

// The entry for a listener starting or stopping (a listen_change event), with its port, address,
// namespace and process.
JournalEntry listener_journal_entry(const Event& change, bool started, const std::string& message);

// Whether the stream at (dev, ino) is the journal's: JOURNAL_STREAM ("DEV:INO", set by systemd for
// StandardOutput=journal) names it. nullptr or malformed: no.
bool is_journal_stream(const char* journal_stream_env, dev_t dev, ino_t ino);

// Sends the entry to journald (sd_journal_sendv); false with error set when it cannot.
bool send_journal_entry(const JournalEntry& entry, std::string& error);

// Whether journald's socket is there to send to ("" when it is, else why not).
std::string journal_unavailable_reason();

}  // namespace synwhy
