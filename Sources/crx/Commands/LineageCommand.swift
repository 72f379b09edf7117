import ArgumentParser
import CRXCore
import Foundation

struct LineageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Write reports/lineage.json; show an artefact's upstream tree; verify the workspace against it.")

    enum Format: String, ExpressibleByArgument { case json, openlineage }

    @OptionGroup var global: GlobalOptions
    @Argument(help: "An artefact: print its upstream tree back to its sources.") var path: String?
    @Flag(help: "JSON output (with PATH: the tree).") var json = false
    @Flag(help: "Re-hash the workspace; exit 1 listing every artefact that no longer matches reports/lineage.json.")
    var verify = false
    @Option(help: "Also write OpenLineage run events (JSON lines) with --format openlineage.") var format: Format = .json
    @Option(name: .shortAndLong, help: "Where --format openlineage writes (default reports/openlineage.jsonl; - for stdout).")
    var output: String?

    func run() throws {
        try runReportingErrors {
            let workspace = try global.workspace()
            let pipeline = try workspace.loadPipeline()
            let state = workspace.stateCache()
            let audit = AuditTrail(workspace: workspace, pipeline: pipeline, state: state)
            if verify {
                guard let recorded = JSONReport.read(audit.lineagePath) else {
                    throw DefinitionError("no \(audit.lineagePath); run crx repro or crx lineage first")
                }
                let problems = try Lineage.verify(recorded, hasher: PathHasher(root: workspace.root, state: state))
                try? state.save()
                for p in problems { Printer.err("crx: \(p.path): \(p.problem)") }
                Printer.out("\((recorded["artefacts"] as? [String: Any])?.count ?? 0) artefact(s) checked, \(problems.count) difference(s)")
                if !problems.isEmpty { throw ExitCode(1) }
                return
            }
            let lineage: [String: Any]
            if path == nil || !FileManager.default.fileExists(atPath: audit.lineagePath) {
                lineage = try audit.writeLineage(lock: try workspace.loadLock(), checks: try audit.verify())
            } else {
                lineage = JSONReport.read(audit.lineagePath) ?? [:]
            }
            if format == .openlineage {
                let events = try Lineage.openLineageEvents(lineage)
                if output == "-" {
                    Printer.out(String(decoding: events, as: UTF8.self), terminator: "")
                } else {
                    let target = output ?? audit.reportsDirectory + "/openlineage.jsonl"
                    try LocalFileSystem().writeAtomically(events, to: target)
                    Printer.out("wrote \(target)")
                }
                return
            }
            guard let path else {
                Printer.out("wrote \(audit.lineagePath)")
                return
            }
            let relative = ProjectPath.resolve(path, relativeTo: "", root: workspace.root) ?? path
            guard let tree = Lineage.upstreamTree(of: relative, in: lineage) else {
                throw DefinitionError("'\(path)' is not an artefact of \(pipeline.file) (no stage output contains it)")
            }
            if json { Printer.json(tree) } else { printTree(tree, prefix: "", isLast: true, root: true) }
        }
    }

    func printTree(_ node: [String: Any], prefix: String, isLast: Bool, root: Bool) {
        let path = node["path"] as? String ?? "?"
        let stage = node["stage"] as? String ?? "?"
        let sha = (node["sha256"] as? String).map { "  \($0.prefix(19))…" } ?? ""
        let line = "\(path)  \(node["xxh128"] as? String ?? "")\(sha)  ← stage '\(stage)' (run \(String((node["run_id"] as? String ?? "?").prefix(8))))"
        Printer.out(root ? line : prefix + (isLast ? "└─ " : "├─ ") + line)
        let childPrefix = root ? "" : prefix + (isLast ? "   " : "│  ")
        let inputs = node["inputs"] as? [[String: Any]] ?? []
        for (i, input) in inputs.enumerated() {
            let last = i == inputs.count - 1
            if let up = input["produced_by"] as? [String: Any] {
                printTree(up, prefix: childPrefix, isLast: last, root: false)
            } else {
                let kind = input["kind"] as? String ?? "file"
                var text = "\(input["path"] as? String ?? "?")  \(input["xxh128"] as? String ?? "")  [\(kind)"
                if kind == "source" { text += " '\(input["source"] as? String ?? "")' \(input["checksum"] as? String ?? "") \(input["verified"] as? String ?? "")" }
                Printer.out(childPrefix + (last ? "└─ " : "├─ ") + text + "]")
            }
        }
    }
}
