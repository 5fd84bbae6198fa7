// The ssh units systemd knows, over D-Bus (sd-bus). No systemd is a normal case, not an error.
#include "host/snapshot.h"

#include <systemd/sd-bus.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

namespace synwhy::host {

namespace {

constexpr const char* destination = "org.freedesktop.systemd1";

// The message of an sd-bus failure: the D-Bus error if there is one, else errno's text.
std::string bus_error_text(const sd_bus_error& e, int rc) {
    if (e.message && *e.message) return e.message;
    if (e.name && *e.name) return e.name;
    return strerror(-rc);
}

// A string property; false with `error` set on failure.
bool get_string(sd_bus* bus, const char* path, const char* iface, const char* name, std::string& value,
                std::string& error) {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    char* s = nullptr;
    int rc = sd_bus_get_property_string(bus, destination, path, iface, name, &e, &s);
    if (rc < 0) {
        error = std::string(name) + ": " + bus_error_text(e, rc);
        sd_bus_error_free(&e);
        return false;
    }
    value = s ? s : "";
    free(s);
    return true;
}

// One unit; nullopt-like `false` when it could not be read (error set) or systemd has no such unit.
bool query_unit(sd_bus* bus, const std::string& name, SystemdUnit& unit, std::string& error) {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    // LoadUnit, not GetUnit: a unit that is installed but was never started is not loaded yet.
    int rc = sd_bus_call_method(bus, destination, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                "LoadUnit", &e, &reply, "s", name.c_str());
    if (rc < 0) {
        error = name + ": LoadUnit: " + bus_error_text(e, rc);
        sd_bus_error_free(&e);
        return false;
    }
    const char* object = nullptr;
    rc = sd_bus_message_read(reply, "o", &object);
    std::string path = rc >= 0 && object ? object : "";
    sd_bus_message_unref(reply);
    if (path.empty()) {
        error = name + ": LoadUnit: unexpected reply";
        return false;
    }

    const char* unit_iface = "org.freedesktop.systemd1.Unit";
    unit.name = name;
    std::string err;
    if (!get_string(bus, path.c_str(), unit_iface, "LoadState", unit.load_state, err)) {
        error = name + ": " + err;
        return false;
    }
    if (unit.load_state == "not-found") return false;
    if (!get_string(bus, path.c_str(), unit_iface, "ActiveState", unit.active_state, err) ||
        !get_string(bus, path.c_str(), unit_iface, "SubState", unit.sub_state, err) ||
        !get_string(bus, path.c_str(), unit_iface, "UnitFileState", unit.unit_file_state, err)) {
        error = name + ": " + err;
        return false;
    }
    if (name.ends_with(".service")) {
        uint32_t pid = 0;
        rc = sd_bus_get_property_trivial(bus, destination, path.c_str(), "org.freedesktop.systemd1.Service",
                                         "MainPID", &e, 'u', &pid);
        if (rc < 0) {
            error = name + ": MainPID: " + bus_error_text(e, rc);
            sd_bus_error_free(&e);
            return false;
        }
        unit.main_pid = pid;
    }
    return true;
}

}  // namespace

std::vector<SystemdUnit> query_ssh_units(bool& systemd_running, std::string& error) {
    std::vector<SystemdUnit> units;
    error.clear();
    // sd_booted()'s test: systemd creates this directory when it runs as PID 1.
    struct stat st {};
    systemd_running = lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
    if (!systemd_running) return units;

    sd_bus* bus = nullptr;
    int rc = sd_bus_open_system(&bus);
    if (rc < 0) {
        error = std::string("cannot connect to the system bus: ") + strerror(-rc);
        return units;
    }
    // A hung systemd must not hang the snapshot (sd-bus waits 25 s by default).
    sd_bus_set_method_call_timeout(bus, 3'000'000);
    std::string errors;
    for (const char* name : {"ssh.service", "sshd.service", "ssh.socket"}) {
        SystemdUnit unit;
        std::string e;
        if (query_unit(bus, name, unit, e)) {
            units.push_back(std::move(unit));
        } else if (!e.empty()) {
            errors += (errors.empty() ? "" : "; ") + e;
        }
    }
    sd_bus_flush_close_unref(bus);
    error = errors;
    return units;
}

}  // namespace synwhy::host
