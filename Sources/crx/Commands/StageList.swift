import ArgumentParser
import CRXCore
import Foundation

/// `crx stage list`: the pipeline's stages after foreach/matrix expansion, in definition order,
/// like `dvc stage list` (name and a description: the stage's `desc`, else what it outputs,
/// reports or depends on). Paths are crx's: relative to the project root.
struct StageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage", abstract: "Inspect the pipeline's stages.",
        subcommands: [StageList.self], defaultSubcommand: StageList.self)
}

struct StageList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the stages (foreach/matrix expanded) in definition order.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Only these stages (a name, or a foreach/matrix group's name for all its members).")
    var targets: [String] = []

    @Flag(help: "Print only the stage names.") var nameOnly = false
    @Flag(help: "JSON: an array of objects with name, cmd, wdir, deps, outs, metrics, plots, params, desc, frozen, always_changed.")
    var json = false

    func run() throws {
        try runReportingErrors {
            let pipeline = try global.workspace().loadPipeline()
            var indices = Array(pipeline.stages.indices)
            if !targets.isEmpty {
                let chosen = Set(try pipeline.resolve(targets: targets))
                indices = indices.filter { chosen.contains($0) }
            }
            let stages = indices.map { pipeline.stages[$0] }
            if json {
                Printer.json(stages.map(Self.object))
            } else if nameOnly {
                for s in stages { Printer.out(s.name) }
            } else {
                let width = stages.map(\.name.count).max() ?? 0
                for s in stages {
                    Printer.out(s.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + Self.description(s))
                }
            }
        }
    }

    static func object(_ s: Stage) -> [String: Any] {
        func paths(_ kind: Stage.Out.Kind) -> [String] { s.outs.filter { $0.kind == kind }.map(\.path) }
        var params: [String: Any] = [:]
        for p in s.paramsByFile { params[p.file] = p.keys.map { $0 as Any } ?? NSNull() }
        return [
            "name": s.name,
            "cmd": s.cmd.count == 1 ? s.cmd[0] as Any : s.cmd as Any,
            "wdir": s.wdir.isEmpty ? "." : s.wdir,
            "deps": s.deps.map(\.path),
            "outs": paths(.out),
            "metrics": paths(.metric),
            "plots": paths(.plot),
            "params": params,
            "desc": s.desc.map { $0 as Any } ?? NSNull(),
            "frozen": s.frozen,
            "always_changed": s.alwaysChanged,
        ]
    }

    /// DVC's: the first line of `desc`, else "Outputs …; Reports …", "Depends on …", truncated to 80.
    static func description(_ s: Stage) -> String {
        var text: String
        if let desc = s.desc, let first = desc.split(separator: "\n", omittingEmptySubsequences: true).first {
            text = String(first)
        } else if s.deps.isEmpty && s.outs.isEmpty {
            text = "No outputs or dependencies"
        } else if s.outs.isEmpty {
            text = "Depends on " + s.deps.map(\.path).joined(separator: ", ")
        } else {
            var parts: [String] = []
            let outs = s.outs.filter { $0.kind == .out }, reports = s.outs.filter { $0.kind != .out }
            if !outs.isEmpty { parts.append("Outputs " + outs.map(\.path).joined(separator: ", ")) }
            if !reports.isEmpty { parts.append("Reports " + reports.map(\.path).joined(separator: ", ")) }
            text = parts.joined(separator: "; ")
        }
        if text.count > 80 { text = String(text.prefix(79)) + "…" }
        return text
    }
}
