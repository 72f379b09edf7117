import ArgumentParser
import CRXCore

/// Options shared by `params diff` and `metrics diff`.
struct DiffOptions: ParsableArguments {
    @Argument(help: "Old revision (default HEAD).") var a: String?
    @Argument(help: "New revision (default: the workspace).") var b: String?
    @Flag(help: "JSON: {file: {key: {old, new, diff}}}.") var json = false
    @Flag(help: "A Markdown table.") var md = false
    @Flag(help: "Show unchanged keys too.") var all = false

    func render(_ read: (String?) throws -> [String: ValueDiff.Flat]) throws {
        let old = try read(a ?? "HEAD")
        let new = try read(b)
        let diff = ValueDiff.diff(old: old, new: new, all: all)
        if json {
            Printer.json(ValueDiff.json(diff))
        } else if diff.isEmpty {
            Printer.out("No changes.")
        } else {
            Printer.out(ValueDiff.table(diff, oldName: a ?? "HEAD", newName: b ?? "workspace", markdown: md))
        }
    }
}

struct Params: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "params", abstract: "Params of the pipeline's stages.", subcommands: [Diff.self])

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Params that differ between two git revisions (default HEAD vs the workspace), read through git without touching the work tree.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: DiffOptions

        func run() throws {
            try runReportingErrors {
                let reader = RevisionReader(workspace: try global.workspace())
                try options.render { try reader.params(at: $0) }
            }
        }
    }
}

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "metrics", abstract: "Metrics files the stages declare.", subcommands: [Show.self, Diff.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "The workspace's metrics.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "JSON: {file: {key: value}}.") var json = false
        @Flag(help: "A Markdown table.") var md = false

        func run() throws {
            try runReportingErrors {
                let metrics = try RevisionReader(workspace: try global.workspace()).metrics(at: nil)
                if json {
                    Printer.json(metrics.mapValues { $0.mapValues(\.jsonObject) })
                    return
                }
                var rows: [[String]] = []
                for file in metrics.keys.sorted() {
                    for key in metrics[file]!.keys.sorted() { rows.append([file, key, metrics[file]![key]!.canonical]) }
                }
                if md {
                    Printer.out("| Path | Key | Value |\n|---|---|---|")
                    for r in rows { Printer.out("| " + r.joined(separator: " | ") + " |") }
                } else {
                    let w0 = rows.map { $0[0].count }.max() ?? 0, w1 = rows.map { $0[1].count }.max() ?? 0
                    for r in rows {
                        Printer.out(r[0].padding(toLength: w0, withPad: " ", startingAt: 0) + "  "
                            + r[1].padding(toLength: w1, withPad: " ", startingAt: 0) + "  " + r[2])
                    }
                }
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "Metrics that differ between two git revisions (default HEAD vs the workspace).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: DiffOptions

        func run() throws {
            try runReportingErrors {
                let reader = RevisionReader(workspace: try global.workspace())
                try options.render { try reader.metrics(at: $0) }
            }
        }
    }
}
