import Foundation
import NephometerCore

/// `/status`: one small server-rendered HTML page (no JavaScript) an operator opens in a browser — the
/// agent, its schedule, publishers with their queues and spools, the coordination groups with what this
/// agent owns, and what each pollster family reports (libvirt's state, the slowest SNMP hosts).
enum StatusPage {
    static func render(_ s: AgentStatus, now: Double = Date().timeIntervalSince1970) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>nephometer \(e(s.host))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
            h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
            table { border-collapse: collapse; margin: .4em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
            th { background: #f3f3f3; } .bad { color: #b00; font-weight: bold; } .ok { color: #070; } code { font-size: .95em; }
            </style></head><body>
            <h1>nephometer on \(e(s.host))</h1>

            """
        let problems = s.unhealthy(now: now)
        h += "<p id=\"health\" class=\"\(problems.isEmpty ? "ok" : "bad")\">\(problems.isEmpty ? "healthy" : "unhealthy: " + problems.map(e).joined(separator: "; "))</p>\n"
        h += table("agent", ["", ""], [
            ["version", s.version], ["namespaces", s.namespaces.joined(separator: ", ")],
            ["up since", Time.isoTimestamp(Date(timeIntervalSince1970: s.startedAt)) + " (\(Int(now - s.startedAt)) s)"],
        ] + s.configFiles.map { ["\($0.0) file", $0.1] } + [
            ["reloads", "\(s.reloadsSucceeded) succeeded, \(s.reloadsFailed) failed" + (s.lastReload.isEmpty ? "" : "; last \(s.lastReload)")],
            ["pipeline queue", "\(s.queueSamples) sample(s) in \(s.queueBatches) batch(es); \(s.queueDropped) dropped"],
        ], id: "agent")
        h += "<h2>Schedule</h2>\n" + table("schedule", ["interval", "cycles", "last cycle ended", "duration (s)", "samples", "errors", "now"], s.intervals.map { i in
            let f = s.cycles[i]
            return ["\(i) s", "\(f?.cycles ?? 0)", f.map { Time.isoTimestamp(Date(timeIntervalSince1970: $0.finishedAt)) } ?? "not yet",
                    f.map { String(format: "%.3f", $0.seconds) } ?? "", f.map { "\($0.samples)" } ?? "", f.map { "\($0.errors)" } ?? "",
                    s.cyclesRunning[i].map { "running for \(String(format: "%.1f", now - $0)) s" } ?? "waiting"]
        }, id: "schedule")
        h += "<h2>Publishers</h2>\n" + table("publishers", ["publisher", "state", "delivered", "waiting (batches)", "spooled (batches)", "spool bytes / bound", "dropped", "refused"],
            s.publishers.map { p in
                guard let d = p.delivery else { return [p.url, "local", "", "", "", "", "", ""] }
                return [p.url, d.failing ? "failing" : (d.spoolProblem.map { "spool problem: \($0)" } ?? "ok"), "\(d.deliveredSamples)",
                        "\(d.queuedBatches)", "\(d.spooledBatches)", "\(d.spoolBytes) / \(d.spoolLimit)", "\(d.droppedSamplesTotal)", "\(d.refusedSamples)"]
            }, id: "publishers")
        h += "<h2>Coordination</h2>\n"
        if let me = s.memberID {
            h += "<p>this agent is member <code id=\"member-id\">\(e(me))</code></p>\n"
            for g in s.groups {
                h += "<h3>group <code>\(e(g.name))</code>: \(g.members.count) member(s); this agent owns \(g.owned) resource(s)</h3>\n"
                h += table("group-\(g.name)", ["member", "weight"], g.members.sorted { $0.key < $1.key }.map { [$0.key + ($0.key == me ? " (this agent)" : ""), "\($0.value)"] },
                           id: nil, cls: "members")
            }
        } else {
            h += "<p>no coordination backend: this agent polls everything</p>\n"
        }
        for f in s.families where !f.title.isEmpty {
            h += "<h2>\(e(f.title))</h2>\n" + table(f.title, f.columns, f.rows, id: nil)
            for n in f.notes { h += "<p>\(e(n))</p>\n" }
        }
        h += "<p><a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a></p>\n</body></html>\n"
        return h
    }

    static func table(_ caption: String, _ head: [String], _ rows: [[String]], id: String?, cls: String? = nil) -> String {
        var t = "<table\(id.map { " id=\"\(e($0))\"" } ?? "")\(cls.map { " class=\"\($0)\"" } ?? "")>"
        if head.contains(where: { !$0.isEmpty }) { t += "<tr>" + head.map { "<th>\(e($0))</th>" }.joined() + "</tr>" }
        for r in rows { t += "<tr>" + r.map { "<td>\(e($0))</td>" }.joined() + "</tr>" }
        if rows.isEmpty { t += "<tr><td colspan=\"\(max(1, head.count))\">none</td></tr>" }
        return t + "</table>\n"
    }

    static func e(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }
}
